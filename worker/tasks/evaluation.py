"""Make the human evaluation of the latest promotion (DESIGN, step 6); the pool-filling task calls it.

Same prompt, same seed, new checkpoint against the one it replaced. Each checkpoint's images of the
fixed evaluation set are made once and reused: the new one's while it serves (no swap), and the
previous one's usually exist already from its own evaluation; missing ones are made with that
checkpoint pinned. Image A of each comparison is the new checkpoint's; labelers see random sides.
"""

from __future__ import annotations

import logging
import time

from sqlalchemy import select

from app.db.models import (
    Comparison,
    ComparisonKind,
    ComparisonState,
    Evaluation,
    EvaluationState,
    Generation,
    GenerationStatus,
)
from app.db.session import session_scope
from app.repo.checkpoints import active_checkpoint_id
from app.repo.evaluations import EvaluationRequest, claim_evaluation, evaluation_requests, previous_checkpoint_id
from app.repo.generations import create_generation, mark_failed, params_of
from app.settings import get_settings
from worker.serving import CheckpointRef, ModelServer
from worker.tasks.common import checkpoint_ref, store_result

log = logging.getLogger(__name__)


def make_due_evaluation(server: ModelServer) -> int:
    """Make the evaluation of the active checkpoint against the previous one if it is due and no
    other worker is on it; returns how many eval comparisons it added."""
    settings = get_settings()
    if settings.eval_seeds_per_prompt == 0:
        return 0
    with session_scope() as session:
        baseline_id = previous_checkpoint_id(session)
        requests = evaluation_requests(session, settings)
        if baseline_id is None or not requests:
            return 0
        checkpoint_id = active_checkpoint_id(session)
        evaluation_id = claim_evaluation(session, checkpoint_id, baseline_id)
        if evaluation_id is None:
            return 0
        checkpoint, baseline = checkpoint_ref(session, checkpoint_id), checkpoint_ref(session, baseline_id)
    try:
        new_images = images_of(server, checkpoint, requests)
        old_images = images_of(server, baseline, requests)
    except Exception as exc:
        log.exception("evaluation %s of checkpoint %s failed", evaluation_id, checkpoint_id)
        with session_scope() as session:
            row = session.get(Evaluation, evaluation_id)
            row.state, row.error = EvaluationState.failed, f"{type(exc).__name__}: {exc}"[:2000]
        return 0
    with session_scope() as session:
        for request, new, old in zip(requests, new_images, old_images, strict=True):
            session.add(
                Comparison(prompt_id=request.prompt_id, prompt=request.params.prompt, generation_a_id=new,
                           generation_b_id=old, kind=ComparisonKind.eval, state=ComparisonState.ready,
                           checkpoint_id=checkpoint.id, evaluation_id=evaluation_id)
            )  # fmt: skip
        row = session.get(Evaluation, evaluation_id)
        row.state, row.pairs, row.error = EvaluationState.ready, len(requests), None
    log.info("evaluation %s: checkpoint %s vs %s, %d pairs", evaluation_id, checkpoint.id, baseline.id, len(requests))
    return len(requests)


def images_of(server: ModelServer, checkpoint: CheckpointRef, requests: list[EvaluationRequest]) -> list[int]:
    """Generation ids of this checkpoint's images for these requests: reused when made before, else made now."""
    with session_scope() as session:
        made = session.scalars(
            select(Generation).where(
                Generation.purpose == "eval",
                Generation.checkpoint_id == checkpoint.id,
                Generation.status == GenerationStatus.done,
                Generation.seed.in_({r.params.seed for r in requests}),
            )
        )
        found = {(params_of(g).model_dump_json()): g.id for g in made}
        ids = [found.get(r.params.model_dump_json()) for r in requests]
        missing = [i for i, generation_id in enumerate(ids) if generation_id is None]
        for i in missing:
            request = requests[i]
            generation = create_generation(
                session, request.params, purpose="eval", requested_checkpoint_id=checkpoint.id,
                prompt_id=request.prompt_id,
            )  # fmt: skip
            generation.status = GenerationStatus.running
            ids[i] = generation.id
    if not missing:
        return ids
    batch = 2 * get_settings().pool_batch  # as many images as one pool batch: the same memory
    for start in range(0, len(missing), batch):
        chunk = missing[start : start + batch]
        started = time.perf_counter()
        try:
            results, _ = server.generate([requests[i].params for i in chunk], checkpoint)
        except Exception as exc:
            with session_scope() as session:
                for i in missing[start:]:
                    mark_failed(session.get(Generation, ids[i]), f"{type(exc).__name__}: {exc}")
            raise
        per_image_ms = (time.perf_counter() - started) * 1e3 / len(chunk)
        with session_scope() as session:
            for i, result in zip(chunk, results, strict=True):
                store_result(session.get(Generation, ids[i]), result, checkpoint.id, per_image_ms)
    return ids
