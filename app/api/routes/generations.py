"""Image generation for client programs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response, status
from fastapi.concurrency import run_in_threadpool

from app.api.deps import AppSettings, CurrentLabeler, Id
from app.api.errors import unprocessable
from app.api.media import media_url
from app.api.rate_limits import enforce
from app.api.schemas.generations import GenerationOut
from core.db.models import Generation
from core.queue import QueueUnavailable
from core.schemas.generation import GenerationRequest
from core.services import generations
from core.services.generations import UnusableCheckpoint
from core.services.prompt_filter import ClassifierUnavailable
from core.states import GENERATION_FINISHED

router = APIRouter(tags=["generations"])


def generation_out(g: Generation) -> GenerationOut:
    return GenerationOut(
        id=g.id, status=g.status, prompt=g.prompt, seed=g.seed, params=g.params, checkpoint_id=g.checkpoint_id,
        adapters=g.requested_adapters, blend=g.blend,
        image_url=media_url(g.image_path) if g.image_path else None, error=g.error, created_at=g.created_at,
        finished_at=g.finished_at, duration_ms=g.duration_ms,
    )  # fmt: skip


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
    await enforce(settings, settings.generation_rate_limit, "generations", labeler.id)
    try:
        generation = await run_in_threadpool(generations.request_generation, body, labeler, settings)
    except generations.TooManyPending as exc:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, str(exc),
                            headers={"Retry-After": str(exc.retry_after_s)}) from exc  # fmt: skip
    except generations.PinningForbidden as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from exc
    except generations.PromptRefused as exc:
        raise unprocessable(str(exc), "body", "prompt") from exc
    except ClassifierUnavailable as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from exc
    except UnusableCheckpoint as exc:
        raise unprocessable(str(exc), "body", "checkpoint_id") from exc
    except generations.UnusableCampaign as exc:
        raise unprocessable(str(exc), "body", "campaign") from exc
    except generations.UnusableBlend as exc:
        raise unprocessable(str(exc), "body", "adapters") from exc
    except QueueUnavailable as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the task queue is unreachable; try again") from exc
    if wait:
        generation = await generations.wait_for(generation, settings.generation_wait_s)
        if generation.status in GENERATION_FINISHED:
            response.status_code = status.HTTP_200_OK
    return generation_out(generation)


@router.get("/generations/{generation_id}", response_model=GenerationOut)
def read(generation_id: Id, labeler: CurrentLabeler) -> GenerationOut:
    generation = generations.read_generation(generation_id, labeler)
    if generation is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"generation {generation_id} does not exist")
    return generation_out(generation)
