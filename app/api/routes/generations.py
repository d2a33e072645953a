"""Image generation for client programs."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response, status
from fastapi.concurrency import run_in_threadpool

from app.api.deps import DB, AppSettings, CurrentLabeler, Id
from app.api.routes.labeling import media_url
from app.db.models import Checkpoint, Generation, GenerationStatus, Role
from app.db.session import new_session
from app.repo.generations import create_generation, mark_failed
from app.schemas.api import GenerationOut, GenerationRequest
from app.schemas.generation import GenerationParams
from worker.celery_app import GENERATE_IMAGE, celery_app

router = APIRouter(tags=["generations"])
FINISHED = (GenerationStatus.done, GenerationStatus.failed)


def to_out(g: Generation) -> GenerationOut:
    return GenerationOut(
        id=g.id, status=g.status, prompt=g.prompt, seed=g.seed, params=g.params, checkpoint_id=g.checkpoint_id,
        image_url=media_url(g.image_path) if g.image_path else None, error=g.error, created_at=g.created_at,
        finished_at=g.finished_at, duration_ms=g.duration_ms,
    )  # fmt: skip


def _load(generation_id: int) -> Generation | None:
    with new_session() as session:
        return session.get(Generation, generation_id)


@router.post(
    "/generations",
    response_model=GenerationOut,
    status_code=status.HTTP_202_ACCEPTED,
    responses={200: {"description": "Finished within the wait (with ?wait=true)."}},
)
async def create(
    body: GenerationRequest,
    labeler: CurrentLabeler,
    settings: AppSettings,
    response: Response,
    wait: Annotated[
        bool, Query(description="Block until the image is ready (up to DPOLOOP_GENERATION_WAIT_S).")
    ] = False,
):
    def enqueue() -> Generation:
        with new_session() as db:
            if body.checkpoint_id is not None:
                checkpoint = db.get(Checkpoint, body.checkpoint_id)
                if checkpoint is None or checkpoint.status == "broken":
                    raise HTTPException(
                        status.HTTP_422_UNPROCESSABLE_CONTENT,
                        f"checkpoint {body.checkpoint_id} does not exist or is broken",
                    )
            values = body.model_dump(exclude={"checkpoint_id"})
            if "num_inference_steps" not in body.model_fields_set:
                values["num_inference_steps"] = settings.default_steps
            if "guidance_scale" not in body.model_fields_set:
                values["guidance_scale"] = settings.default_guidance
            generation = create_generation(db, GenerationParams(**values), purpose="api", requested_by=labeler.id,
                                           requested_checkpoint_id=body.checkpoint_id)  # fmt: skip
            db.commit()
            try:
                celery_app.send_task(GENERATE_IMAGE, args=[generation.id])
            except Exception as exc:  # the broker is down: say so, and leave no row waiting forever
                mark_failed(generation, f"could not queue the task: {type(exc).__name__}: {exc}")
                db.commit()
                raise HTTPException(
                    status.HTTP_503_SERVICE_UNAVAILABLE, "the task queue is unreachable; try again"
                ) from exc
            return generation

    generation = await run_in_threadpool(enqueue)
    if wait:
        deadline = time.monotonic() + settings.generation_wait_s
        while generation.status not in FINISHED and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            generation = await run_in_threadpool(_load, generation.id)
        if generation.status in FINISHED:
            response.status_code = status.HTTP_200_OK
    return to_out(generation)


@router.get("/generations/{generation_id}", response_model=GenerationOut)
def read(generation_id: Id, labeler: CurrentLabeler, db: DB) -> GenerationOut:
    generation = db.get(Generation, generation_id)
    # Labelers see only their own requests: pool images must not reveal their checkpoint.
    if generation is None or (labeler.role != Role.admin and generation.requested_by != labeler.id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"generation {generation_id} does not exist")
    return to_out(generation)
