"""Task: keep the pool of unlabeled train comparisons full for the active checkpoint.

Each pair is one prompt drawn twice with different seeds, in one batch: the data Diffusion-DPO
learns from. Prompts are drawn least-used first so the pool covers the prompt set evenly.
"""

from __future__ import annotations

import logging
import random
import secrets
import time

from sqlalchemy import func, select

from app.db.models import Comparison, ComparisonKind, ComparisonState, Generation, GenerationStatus, Prompt
from app.db.session import session_scope
from app.repo.checkpoints import active_checkpoint_id
from app.repo.comparisons import ready_pool_count
from app.repo.generations import create_generation
from app.repo.prompts import active_prompts
from app.schemas.generation import MAX_SEED, GenerationParams
from app.settings import get_settings
from worker.celery_app import FILL_POOL, celery_app
from worker.serving import model_server
from worker.tasks.common import checkpoint_ref, store_result
from worker.tasks.evaluation import evaluation_step

log = logging.getLogger(__name__)


def least_used_prompts(session, checkpoint_id: int, count: int) -> list[Prompt]:
    prompts = active_prompts(session)
    if not prompts:
        return []
    used = dict(
        session.execute(
            select(Comparison.prompt_id, func.count(Comparison.id))
            .where(Comparison.checkpoint_id == checkpoint_id, Comparison.kind == ComparisonKind.train)
            .group_by(Comparison.prompt_id)
        ).all()
    )
    rng = random.Random()
    ranked = sorted(prompts, key=lambda p: (used.get(p.id, 0), rng.random()))
    return [ranked[i % len(ranked)] for i in range(count)]


@celery_app.task(name=FILL_POOL)
def fill_pool() -> int:
    """Fill the pool batch after batch for up to two beat intervals, a step of a due evaluation
    before each batch; returns how many train pairs were added.

    Labelers can vote faster than a worker generates: one batch per beat tick would leave them
    waiting. The time budget keeps REST generations queued behind a fill from waiting long."""
    settings = get_settings()
    deadline = time.monotonic() + 2 * settings.pool_interval_s
    added = 0
    while True:
        evaluated = _evaluation_step()
        batch = fill_pool_once()
        added += batch
        if (batch == 0 and evaluated == 0) or time.monotonic() >= deadline:
            return added


def _evaluation_step() -> int:
    try:
        return evaluation_step(model_server())
    except Exception:  # the train pool must fill even when an evaluation cannot be made
        log.exception("a step of the promotion's evaluation failed; the next fill tries again")
        return 0


def fill_pool_once() -> int:
    """Add up to pool_batch pairs when the pool is below target; returns how many were added."""
    settings = get_settings()
    server = model_server()
    server.warm()
    server.sync_to_active()  # a promotion: fill for the new checkpoint, not the retired one
    with session_scope() as session:
        checkpoint = checkpoint_ref(session, active_checkpoint_id(session))
        ready = ready_pool_count(session, checkpoint.id)
        missing = settings.pool_target - ready
        if missing <= 0:
            return 0
        # An empty pool gets one pair first, fast, so labelers wait as little as possible; then full batches.
        size = 1 if ready == 0 else min(missing, settings.pool_batch)
        prompts = least_used_prompts(session, checkpoint.id, size)
        pairs = []
        for prompt in prompts:
            seed_a = secrets.randbelow(MAX_SEED)
            seed_b = (seed_a + 1 + secrets.randbelow(MAX_SEED - 1)) % MAX_SEED  # never the same seed
            pair = []
            for seed in (seed_a, seed_b):
                params = GenerationParams(prompt=prompt.text, seed=seed, num_inference_steps=settings.default_steps,
                                          guidance_scale=settings.default_guidance)  # fmt: skip
                generation = create_generation(session, params, purpose="pool", prompt_id=prompt.id)
                generation.status = GenerationStatus.running
                pair.append((generation.id, params))
            pairs.append((prompt.id, prompt.text, pair))
    if not pairs:
        log.warning("the pool is empty and there are no active prompts: add some with `dpoloop prompts add`")
        return 0

    started = time.perf_counter()
    requests = [params for _, _, pair in pairs for _, params in pair]
    try:
        results, _ = server.generate(requests, checkpoint)  # pinned: the comparisons' checkpoint
    except Exception as exc:
        with session_scope() as session:
            for _, _, pair in pairs:
                for generation_id, _ in pair:
                    generation = session.get(Generation, generation_id)
                    generation.status, generation.error = GenerationStatus.failed, f"{type(exc).__name__}: {exc}"
        raise
    per_image_ms = (time.perf_counter() - started) * 1e3 / len(requests)
    with session_scope() as session:
        results_iter = iter(results)
        for prompt_id, text, pair in pairs:
            ids = []
            for generation_id, _ in pair:
                store_result(session.get(Generation, generation_id), next(results_iter), checkpoint.id, per_image_ms)
                ids.append(generation_id)
            session.add(
                Comparison(prompt_id=prompt_id, prompt=text, generation_a_id=ids[0], generation_b_id=ids[1],
                           kind=ComparisonKind.train, state=ComparisonState.ready, checkpoint_id=checkpoint.id)
            )  # fmt: skip
    return len(pairs)
