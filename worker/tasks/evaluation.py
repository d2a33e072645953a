"""Make the human evaluation of the latest promotion (DESIGN, step 6), a step at a time.

The pool-filling task calls `evaluation_step` between pool batches, so an evaluation never holds
the generate queue longer than a pool batch does. Each step makes one chunk of missing images —
the new checkpoint's first (it serves, so no swap), then the previous one's (usually there already
from its own evaluation; else made with it pinned) — and the step that finds every image made
writes the evaluation and its comparisons in one transaction. Images are matched by prompt, seed
and parameters, so a step lost to a crash costs only its chunk; two workers on the same step at
once may both render a chunk, and the unique (checkpoint, baseline) row keeps one evaluation.
"""

from __future__ import annotations

import logging
import time

from app.db.models import Checkpoint, Generation, GenerationStatus
from app.db.session import session_scope
from app.repo.checkpoints import active_checkpoint_id, checkpoint_files_ok
from app.repo.evaluations import (
    EvaluationRequest,
    create_evaluation,
    evaluation_exists,
    evaluation_requests,
    made_images,
    previous_checkpoint_id,
)
from app.repo.generations import create_generation, mark_failed
from app.settings import get_settings
from worker.serving import CheckpointRef, ModelServer
from worker.tasks.common import checkpoint_ref, store_result

log = logging.getLogger(__name__)
_warned: set[tuple[int, int]] = set()


def evaluation_step(server: ModelServer) -> int:
    """One step of the due evaluation; returns how many images or pairs it added (0: none is due)."""
    settings = get_settings()
    if settings.eval_seeds_per_prompt == 0:
        return 0
    with session_scope() as session:
        active = active_checkpoint_id(session)  # read once: the pair below must not be (W, W)
        baseline_id = previous_checkpoint_id(session, active)
        if baseline_id is None or baseline_id == active or evaluation_exists(session, active, baseline_id):
            return 0
        requests = evaluation_requests(session, settings)
        problem = checkpoint_files_ok(session.get(Checkpoint, baseline_id))
        if not requests or problem:
            if problem and (active, baseline_id) not in _warned:  # once: every pool fill asks again
                _warned.add((active, baseline_id))
                log.warning("no evaluation of checkpoint %s against %s: %s", active, baseline_id, problem)
            return 0
        sides = [(checkpoint_ref(session, c), made_images(session, c, requests)) for c in (active, baseline_id)]
    for checkpoint, images in sides:
        missing = [i for i, image in enumerate(images) if image is None]
        if missing:
            chunk = [requests[i] for i in missing[: 2 * settings.pool_batch]]  # a pool batch's worth
            make_images(server, checkpoint, chunk)
            return len(chunk)
    (_, new_images), (_, old_images) = sides
    with session_scope() as session:
        if active_checkpoint_id(session) != active:
            return 0  # promoted again meanwhile: that promotion's evaluation is the one due now
        evaluation_id = create_evaluation(session, active, baseline_id, requests, new_images, old_images)
    if evaluation_id is None:
        return 0
    log.info("evaluation %s: checkpoint %s vs %s, %d pairs", evaluation_id, active, baseline_id, len(requests))
    return len(requests)


def make_images(server: ModelServer, checkpoint: CheckpointRef, requests: list[EvaluationRequest]) -> None:
    with session_scope() as session:
        ids = []
        for request in requests:
            generation = create_generation(
                session, request.params, purpose="eval", requested_checkpoint_id=checkpoint.id,
                prompt_id=request.prompt_id,
            )  # fmt: skip
            generation.status = GenerationStatus.running
            ids.append(generation.id)
    started = time.perf_counter()
    try:
        results, _ = server.generate([r.params for r in requests], checkpoint)
    except Exception as exc:
        with session_scope() as session:
            for generation_id in ids:
                mark_failed(session.get(Generation, generation_id), f"{type(exc).__name__}: {exc}")
        raise
    per_image_ms = (time.perf_counter() - started) * 1e3 / len(requests)
    with session_scope() as session:
        for generation_id, result in zip(ids, results, strict=True):
            store_result(session.get(Generation, generation_id), result, checkpoint.id, per_image_ms)


def make_due_evaluation(server: ModelServer) -> int:
    """All steps at once (tests, scripts); returns the pairs of the evaluation it wrote (0: none)."""
    while (added := evaluation_step(server)) > 0:
        with session_scope() as session:
            active = active_checkpoint_id(session)
            if evaluation_exists(session, active, previous_checkpoint_id(session, active) or 0):
                return added
    return 0
