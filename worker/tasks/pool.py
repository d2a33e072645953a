"""Task: keep the pool of unlabeled train comparisons full for the active checkpoint.

What to render is the pool service's decision (core/services/pool.py); this task renders it with
the served model, writes the files, and hands the batch back.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from core.queue import FILL_POOL, celery_app
from core.schemas.rounds import round_config
from core.services import generations, pool
from core.settings import get_settings
from worker.pairing import shown_pair
from worker.serving import model_server
from worker.tasks.common import save_files
from worker.tasks.evaluation import evaluation_step, judge_step

log = logging.getLogger(__name__)


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
        evaluated = _evaluation_step() + _judge_step(settings)
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


def _judge_step(settings) -> int:
    try:
        return judge_step(settings)
    except Exception:  # a judge that cannot load must not stop the pool
        log.exception("the automatic judge could not rule on an evaluation; the next fill tries again")
        return 0


def fill_pool_once() -> int:
    """Add up to pool_batch pairs when the pool is below target; returns how many were added."""
    server = model_server()
    server.warm()
    server.sync_to_active()  # a promotion: fill for the new checkpoint, not the retired one
    settings = get_settings()
    batch = pool.plan_next(settings)
    if batch is None:
        return 0
    if not batch.pairs:
        log.warning("the pool is empty and there are no active prompts: add some with `dpoloop prompts add`")
        return 0
    started = time.perf_counter()
    try:
        results, _ = server.generate(batch.requests, batch.checkpoint)  # pinned: the comparisons' checkpoint
        for generation, result in zip(batch.generations, results, strict=True):
            save_files(generation, result)
    except Exception as exc:
        generations.fail_generations([g.id for g in batch.generations], f"{type(exc).__name__}: {exc}")
        raise
    candidates = _candidate_latents(batch, results, settings)
    rewards = _uncertain_rewards(server, batch, candidates, settings)
    shown = [shown_pair(pair.pairing, latents, None if rewards is None else rewards[index])
             for index, (pair, latents) in enumerate(zip(batch.pairs, candidates, strict=True))]  # fmt: skip
    return pool.record_batch(batch, (time.perf_counter() - started) * 1e3 / len(batch.requests), shown)


def _candidate_latents(batch, results, settings) -> list[list]:
    """Per pair, the latents of its candidates in order: spares (from disk), then the new renders."""
    per_pair, offset = [], 0
    for pair in batch.pairs:
        spares = [np.load(settings.latents_dir / spare.latents_path) for spare in pair.spares]
        per_pair.append(spares + [r.latents for r in results[offset : offset + len(pair.generations)]])
        offset += len(pair.generations)
    return per_pair


def _uncertain_rewards(server, batch, candidates, settings) -> list | None:
    """Per pair, every candidate's implicit reward under the batch's checkpoint, when a pair is chosen by it."""
    if not any(pair.pairing == "uncertain" for pair in batch.pairs):
        return None
    family = server.generator.family.value
    beta = round_config(family, settings.dpo_overrides).beta  # the scale the rounds train with
    prompts = [pair.prompt for pair, latents in zip(batch.pairs, candidates, strict=True) for _ in latents]
    flat = [x for latents in candidates for x in latents]
    rewards = server.implicit_rewards(batch.checkpoint, prompts, flat, beta, settings.default_guidance)
    per_pair, offset = [], 0
    for latents in candidates:
        per_pair.append(rewards[offset : offset + len(latents)])
        offset += len(latents)
    return per_pair
