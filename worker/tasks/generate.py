"""Task: one image for a REST client (`POST /api/v1/generations`)."""

from __future__ import annotations

import logging
import time

from core.queue import GENERATE_IMAGE, celery_app
from core.services import generations
from worker.metrics import timing_images
from worker.serving import model_server
from worker.tasks.common import save_files

log = logging.getLogger(__name__)


@celery_app.task(name=GENERATE_IMAGE)
def generate_image(generation_id: int) -> None:
    job = generations.claim_generation(generation_id)
    if job is None:
        return  # gone, a redelivery of finished work, or refused with its reason recorded
    started = time.perf_counter()
    try:
        with timing_images("api", 1):
            results, checkpoint_id = model_server().generate([job.params], job.checkpoint)
        save_files(job.started, results[0])
    except Exception as exc:  # the client must learn why; the worker carries on
        log.exception("generation %s failed", generation_id)
        generations.fail_generations([generation_id], f"{type(exc).__name__}: {exc}")
        return
    duration_ms = (time.perf_counter() - started) * 1e3
    generations.finish_generations([generation_id], checkpoint_id, duration_ms, blend=job.blend)
