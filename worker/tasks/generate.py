"""Task: one image for a REST client (`POST /api/v1/generations`)."""

from __future__ import annotations

import logging
import time

from app.db.models import Generation, GenerationStatus
from app.db.session import session_scope
from app.repo.generations import mark_failed, params_of
from worker.celery_app import GENERATE_IMAGE, celery_app
from worker.serving import model_server
from worker.tasks.common import checkpoint_ref, store_result

log = logging.getLogger(__name__)


@celery_app.task(name=GENERATE_IMAGE)
def generate_image(generation_id: int) -> None:
    with session_scope() as session:
        generation = session.get(Generation, generation_id)
        if generation is None or generation.status == GenerationStatus.done:
            return  # gone, or a redelivery of work already finished
        generation.status = GenerationStatus.running
        checkpoint = None  # None: whatever is promoted when it runs
        if generation.requested_checkpoint_id is not None:
            try:
                checkpoint = checkpoint_ref(session, generation.requested_checkpoint_id)
            except ValueError as exc:
                mark_failed(generation, str(exc))
                return
        params = params_of(generation)
    started = time.perf_counter()
    try:
        results, checkpoint_id = model_server().generate([params], checkpoint)
        result = results[0]
    except Exception as exc:  # the client must learn why; the worker carries on
        log.exception("generation %s failed", generation_id)
        with session_scope() as session:
            mark_failed(session.get(Generation, generation_id), f"{type(exc).__name__}: {exc}")
        return
    with session_scope() as session:
        store_result(
            session.get(Generation, generation_id), result, checkpoint_id, (time.perf_counter() - started) * 1e3
        )
