"""Pair selection (DPOLOOP_PAIRING): random shows the two seeds rendered; diverse renders K candidates
in the batch and shows the two whose latents lie farthest apart; unshown candidates are reclaimed."""

from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import select, update

from core.db.models import Comparison, Generation
from core.db.session import session_scope
from core.services import retention
from core.settings import get_settings
from core.states import ComparisonKind, GenerationPurpose
from tests.conftest import apply_settings
from tests.helpers.loop import generate_pool
from worker.pairing import farthest_pair, shown_pair


def test_farthest_pair_is_the_pair_at_the_largest_distance():
    points = [np.array([0.0, 0.0]), np.array([1.0, 0.0]), np.array([5.0, 5.0]), np.array([-2.0, -1.0])]
    assert farthest_pair(points) == (2, 3)
    assert farthest_pair([np.zeros((4, 2, 2)), np.ones((4, 2, 2))]) == (0, 1)
    same = [np.zeros(3)] * 3
    assert farthest_pair(same) == (0, 1)  # all alike: the first two


def test_random_pairing_shows_the_two_it_rendered():
    assert shown_pair("random", [np.zeros(2), np.ones(2), np.full(2, 9.0)]) == (0, 1)
    assert shown_pair(None, [np.zeros(2), np.ones(2)]) == (0, 1)


def _latents(generation: Generation) -> np.ndarray:
    return np.load(get_settings().latents_dir / generation.latents_path)


def test_diverse_pool_shows_the_farthest_of_four_and_retention_reclaims_the_rest(loop_db, monkeypatch):
    apply_settings(monkeypatch, pairing="diverse", pairing_candidates=4, pool_target=4, pool_batch=4)
    generate_pool(4)
    with session_scope() as session:
        comparisons = session.scalars(select(Comparison).where(Comparison.kind == ComparisonKind.train)).all()
        assert len(comparisons) == 4 and {c.pairing for c in comparisons} == {"diverse"}
        pool_rows = session.scalars(select(Generation).where(Generation.purpose == GenerationPurpose.pool)).all()
        assert len(pool_rows) == 16  # four candidates rendered per pair
        by_prompt: dict[int, list[Generation]] = {}
        for row in pool_rows:
            by_prompt.setdefault(row.prompt_id, []).append(row)
        shown = set()
        for comparison in comparisons:
            candidates = sorted(by_prompt[comparison.prompt_id], key=lambda g: g.id)
            assert len(candidates) == 4
            i, j = farthest_pair([_latents(g) for g in candidates])
            assert {comparison.generation_a_id, comparison.generation_b_id} == {candidates[i].id, candidates[j].id}
            shown |= {comparison.generation_a_id, comparison.generation_b_id}
        unshown = [g.id for g in pool_rows if g.id not in shown]
        unshown_files = [get_settings().media_dir / g.image_path for g in pool_rows if g.id not in shown]
        assert len(unshown) == 8 and all(p.exists() for p in unshown_files)

    settings = get_settings()
    assert retention.apply(settings).unshown_candidates == 0  # younger than DPOLOOP_RETENTION_CANDIDATE_HOURS
    with session_scope() as session:
        session.execute(update(Generation).where(Generation.purpose == GenerationPurpose.pool)
                        .values(finished_at=datetime.now(UTC) - timedelta(hours=25)))  # fmt: skip
    assert retention.apply(settings).unshown_candidates == 8
    assert not any(p.exists() for p in unshown_files)
    with session_scope() as session:
        for comparison in session.scalars(select(Comparison)):  # the shown pairs keep their files
            for generation in (comparison.generation_a, comparison.generation_b):
                assert (settings.media_dir / generation.image_path).exists()
