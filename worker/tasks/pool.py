"""Task: keep the pool of unlabeled train comparisons full for the active checkpoint.

What to render is the pool service's decision (core/services/pool.py); this task renders it with
the served model, writes the files, and hands the batch back.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace

import numpy as np
from PIL import Image

from core.queue import FILL_POOL, celery_app
from core.services import generations, pool
from core.settings import get_settings
from core.storage import LATENTS, MEDIA, latents_file, media_file, storage
from worker.judges.registry import embedding_judge
from worker.metrics import timing_images
from worker.pairing import shown_pair
from worker.reward.scorer import current_scorer
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
    if not batch.comparisons:
        log.warning("the pool is empty and there are no active prompts: add some with `dpoloop prompts add`")
        return 0
    try:
        spares = [[np.load(latents_file(settings, g.latents_path)) for g in planned.spares]
                  for planned in batch.comparisons]  # fmt: skip
        rendered, _ = server.wearing(batch.checkpoint, lambda generator: _render(generator, batch, spares, settings))
        results, candidates, rewards, render_ms = rendered  # pinned: made by the comparisons' checkpoint
        for generation, result in zip(batch.generations, results, strict=True):
            save_files(generation, result)
        if rewards is None and any(_by_reward(batch, candidates)):  # the reward failed: the farthest pair is shown
            batch = replace(batch, comparisons=[replace(p, pairing="diverse") if p.pairing == "uncertain" else p
                                          for p in batch.comparisons])  # fmt: skip
        scores = _preference_scores(batch, candidates, settings)  # after the model lock: no generator needed
        if scores is None and any(_by_preference(batch, candidates)):
            batch = replace(batch, comparisons=[replace(p, pairing="diverse") if p.pairing == "reward" else p
                                          for p in batch.comparisons])  # fmt: skip
        if scores is not None:  # each pair ranked by what its strategy names: implicit reward or preference model
            implicit = rewards or [None] * len(scores)
            rewards = [score if planned.pairing == "reward" else reward
                       for planned, reward, score in zip(batch.comparisons, implicit, scores, strict=True)]  # fmt: skip
        points = _distance_points(batch, candidates, results, settings)
        shown = [shown_pair(planned.pairing, its_points, None if rewards is None else rewards[index])
                 for index, (planned, its_points) in enumerate(zip(batch.comparisons, points, strict=True))]
        return pool.record_batch(batch, render_ms / len(batch.requests), shown)
    except Exception as exc:
        generations.fail_generations([g.id for g in batch.generations], f"{type(exc).__name__}: {exc}")
        _remove_files(batch.generations, settings)
        raise


def _by_reward(batch, candidates: list[list]) -> list[bool]:
    """Per comparison: is it chosen by the implicit reward (uncertain, with more than two candidates)?"""
    return [p.pairing == "uncertain" and len(c) > 2 for p, c in zip(batch.comparisons, candidates, strict=True)]


def _by_preference(batch, candidates: list[list]) -> list[bool]:
    """Per comparison: is it chosen by the preference model (reward, with more than two candidates)?"""
    return [p.pairing == "reward" and len(c) > 2 for p, c in zip(batch.comparisons, candidates, strict=True)]


def _preference_scores(batch, candidates: list[list], settings) -> list | None:
    """Per pair, its candidates' preference-model scores where it is chosen by them (else None in its
    place); None when no pair is, or they cannot be computed (those pairs are then shown as diverse)."""
    chosen = _by_preference(batch, candidates)
    if not any(chosen):
        return None
    try:
        scorer = current_scorer(settings, batch.campaign_id)
        if scorer is None:  # planned while a version existed; gone since
            return None
        return [scorer.scores([planned.prompt] * len(latents), latents) if by else None
                for planned, latents, by in zip(batch.comparisons, candidates, chosen, strict=True)]  # fmt: skip
    except Exception:  # the renders are good: show them as diverse pairs rather than lose them
        log.exception("the preference model could not score the candidates; these pairs are chosen as diverse")
        return None


def _render(generator, batch, spares: list[list], settings) -> tuple[list, list[list], list | None, float]:
    """Under the server's lock, with the batch's checkpoint on: the new images, each pair's candidates'
    latents (spares first), then (when a comparison is chosen by it) every candidate's implicit reward, per
    pair; and the milliseconds rendering took. A reward that cannot be computed is None: those pairs
    are left to the diverse choice."""
    started = time.perf_counter()
    with timing_images("pool", len(batch.requests)):
        results = generator.generate(batch.requests)
    render_ms = (time.perf_counter() - started) * 1e3
    candidates = _per_pair(batch, spares, [r.latents for r in results])
    if not any(_by_reward(batch, candidates)):
        return results, candidates, None, render_ms
    from worker.dpo.implicit_reward import implicit_rewards

    prompts = [p.prompt for p, latents in zip(batch.comparisons, candidates, strict=True) for _ in latents]
    flat = [x for latents in candidates for x in latents]
    try:
        rewards = implicit_rewards(generator, prompts, flat, guidance=settings.default_guidance)
    except Exception:  # the renders are good: show them as diverse pairs rather than lose them
        log.exception("the implicit reward could not be computed; these pairs are chosen as diverse")
        return results, candidates, None, render_ms
    return results, candidates, _split(list(rewards), [len(c) for c in candidates]), render_ms


def _distance_points(batch, candidates: list[list], results: list, settings) -> list[list]:
    """Per pair, what its candidates' distances are measured on: the judge's image embeddings where the
    install has an embedding judge (after the model lock: the judge needs no generator), else the latents."""
    chosen = [planned.pairing in ("diverse", "uncertain", "reward") and len(c) > 2
              for planned, c in zip(batch.comparisons, candidates, strict=True)]  # fmt: skip
    judge = embedding_judge(settings) if any(chosen) else None
    if judge is None:
        return candidates
    try:
        spare_images = [[_image(g, settings) for g in planned.spares] for planned in batch.comparisons]
        images = [image for pair_images in _per_pair(batch, spare_images, [r.image for r in results])
                  for image in pair_images]  # fmt: skip
        flat = list(judge.embed(images))
        if len(flat) != len(images):
            raise ValueError(f"the judge embedded {len(flat)} images of {len(images)}")
    except Exception:  # the renders are good: latents still measure distance
        log.exception("the judge could not embed the candidates; their latents measure the distance instead")
        return candidates
    return _split(flat, [len(c) for c in candidates])


def _per_pair(batch, spares: list[list], new: list) -> list[list]:
    """Each pair's candidates in order: its spares, then its share of the batch's new renders (latents or
    images alike)."""
    rendered = _split(new, [len(planned.generations) for planned in batch.comparisons])
    return [list(pair_spares) + pair_new for pair_spares, pair_new in zip(spares, rendered, strict=True)]


def _image(generation, settings) -> Image.Image:
    with Image.open(media_file(settings, generation.image_path)) as image:
        return image.convert("RGB")


def _split(flat: list, sizes: list[int]) -> list[list]:
    """Consecutive pieces of flat, of these sizes."""
    out, offset = [], 0
    for size in sizes:
        out.append(flat[offset : offset + size])
        offset += size
    return out


def _remove_files(started, settings) -> None:
    """The files a failed batch wrote: no row will ever point at them."""
    store = storage(settings)
    for generation in started:
        store.delete(f"{MEDIA}/{generation.image_path}")
        if generation.latents_path:
            store.delete(f"{LATENTS}/{generation.latents_path}")
