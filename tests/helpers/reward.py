"""Votes the preference model can learn: train pairs whose stored latents hold one bright square each, of
a random size, voted by people who prefer the larger square (and, where asked, an AI labeler who votes
the other way, whose votes must never reach the model)."""

from __future__ import annotations

import numpy as np
from sqlalchemy import select, update

from core.db.models import Comparison, Generation
from core.db.session import session_scope
from core.repo.comparisons import left_is_a, record_vote
from core.settings import get_settings
from core.states import Choice
from tests.helpers.data import make_comparisons, make_labeler


def square_latents(rng: np.random.Generator, size: int) -> np.ndarray:
    latents = rng.normal(0.0, 0.3, (4, 16, 16)).astype(np.float32)
    top, left = rng.integers(0, 17 - size, 2)
    latents[:, top : top + size, left : left + size] += 2.0
    return latents


def voted_square_pairs(count: int, people: int = 1, ai_against: bool = False, seed: int = 0,
                       campaign_id: int = 1, larger: bool = True) -> list[int]:  # fmt: skip
    """`count` train pairs of the campaign, each voted by `people` labelers for its larger square (distinct
    sizes; larger=False: the smaller one)."""
    rng = np.random.default_rng(seed)
    ids = make_comparisons(count, seed=seed, campaign_id=campaign_id)
    labelers = [make_labeler(f"person-{seed}-{i}")[0] for i in range(people)]
    ai = make_labeler(f"ai-{seed}", ai=True)[0] if ai_against else None
    latents_dir = get_settings().latents_dir
    with session_scope() as session:
        for comparison_id in ids:
            comparison = session.get(Comparison, comparison_id)
            sizes = rng.choice(np.arange(2, 13), 2, replace=False)
            sides = (comparison.generation_a_id, comparison.generation_b_id)
            for generation_id, size in zip(sides, sizes, strict=True):
                path = session.scalar(select(Generation.latents_path).where(Generation.id == generation_id))
                np.save(latents_dir / path, square_latents(rng, int(size)))
            a_wins = (sizes[0] > sizes[1]) == larger
            for labeler_id, wants_a in [(p, a_wins) for p in labelers] + ([(ai, not a_wins)] if ai else []):
                session.execute(update(Comparison).where(Comparison.id == comparison_id).values(leased_by=labeler_id))
                session.flush()
                left = Choice.left if wants_a == left_is_a(session, comparison_id, labeler_id) else Choice.right
                record_vote(session, comparison_id, labeler_id, left, 1200, 10)
    return ids
