"""Only people in good standing measure checkpoints, on SQLite and Postgres: AI labelers and labelers
out of good standing are served no evaluation or arena pair, and their votes on such pairs count in
no win rate (an evaluation's, `human_eval`, `dpoloop checkpoints list`) nor the arena. Standing is
judged when the votes are read: a labeler found out later stops counting at once, and counts again
when an admin restores them."""

import pytest
from sqlalchemy import insert, update

from core.db.models import Comparison, Evaluation
from core.db.session import session_scope
from core.repo.checkpoints import promote
from core.repo.evaluations import describe
from core.services import arena, checkpoints, evaluations, labeling, quality
from core.settings import get_settings
from core.states import Choice, ComparisonKind, EvaluationKind
from tests.api.test_evaluations_api import new_checkpoint
from tests.conftest import apply_settings
from tests.helpers.data import make_comparisons, make_labeler, sees_a_on_the_left, serve


@pytest.fixture(params=["sqlite", "postgres"])
def any_db(request):
    """Serving and counting are SQL: each database answers them."""
    return request.getfixturevalue("sqlite_db" if request.param == "sqlite" else "pg_settings")


def measured(checkpoint_id: int, baseline_id: int, count: int, kind: EvaluationKind) -> list[int]:
    """An evaluation (a promotion's, or an arena match) of `count` pairs; image A is checkpoint_id's."""
    with session_scope() as session:
        evaluation_id = session.scalar(
            insert(Evaluation)
            .values(checkpoint_id=checkpoint_id, baseline_id=baseline_id, pairs=count, kind=kind)
            .returning(Evaluation.id)
        )
    ids = make_comparisons(count, checkpoint_id=checkpoint_id, seed=100 + evaluation_id)
    comparison_kind = ComparisonKind.match if kind == EvaluationKind.match else ComparisonKind.eval
    with session_scope() as session:
        session.execute(update(Comparison).where(Comparison.id.in_(ids))
                        .values(kind=comparison_kind, evaluation_id=evaluation_id))  # fmt: skip
    return ids


def a_side(comparison_id: int, labeler_id: int) -> Choice:
    return Choice.left if sees_a_on_the_left(comparison_id, labeler_id) else Choice.right


def vote(comparison_id: int, labeler_id: int, choice: Choice) -> None:
    serve(comparison_id, labeler_id)  # as if served before: the votes already in the database
    labeling.vote(comparison_id, labeler_id, choice, 1500, get_settings())


@pytest.fixture
def serving(any_db, tmp_path, monkeypatch) -> int:
    apply_settings(monkeypatch, votes_per_comparison=5, quality_min_bias_votes=8, quality_max_side_bias=0.3)
    new = new_checkpoint(tmp_path, "new")
    with session_scope() as session:
        promote(session, new, by="test")
    return new


def test_ai_labelers_and_labelers_out_of_good_standing_get_no_evaluation_or_arena_pairs(serving, tmp_path):
    other = new_checkpoint(tmp_path, "other")
    eval_ids = measured(serving, 1, 3, EvaluationKind.promotion)
    match_ids = measured(other, 1, 1, EvaluationKind.match)
    train_ids = make_comparisons(24, checkpoint_id=serving, seed=7)
    person, robot = make_labeler("person")[0], make_labeler("ai-scenes", ai=True)[0]
    excluded, clicker = make_labeler("excluded")[0], make_labeler("clicker")[0]
    quality.set_override(excluded, quality.EXCLUDED)
    for comparison_id in train_ids[16:]:  # eight decisive votes, all "left": out of standing by the side-bias rule
        vote(comparison_id, clicker, Choice.left)
    settings = get_settings()

    def three(labeler: int) -> set[int]:
        served: list[labeling.ShownComparison] = []
        for _ in range(3):  # the pair on screen asked away each time (by handle), as the UI does to prefetch
            served.append(labeling.next_comparison(labeler, settings, exclude=[s.handle for s in served]))
        return {s.id for s in served}

    for labeler in (robot, excluded, clicker):
        assert three(labeler) <= set(train_ids)  # train pairs only, while measuring pairs wait
    served = three(person)
    assert len(served) == 3 and served < set(eval_ids + match_ids)  # a person in good standing gets them first
    quality.set_override(clicker, quality.GOOD)  # an admin's word restores the clicker: served them again
    assert labeling.next_comparison(clicker, settings).id in eval_ids + match_ids


def test_votes_of_ai_labelers_and_labelers_out_of_good_standing_count_in_no_win_rate_nor_the_arena(serving):
    eval_ids = measured(serving, 1, 4, EvaluationKind.promotion)
    train_ids = make_comparisons(8, checkpoint_id=serving, seed=7)
    person, robot = make_labeler("person")[0], make_labeler("ai-scenes", ai=True)[0]
    later, clicker = make_labeler("later")[0], make_labeler("clicker")[0]
    for comparison_id in eval_ids:
        vote(comparison_id, person, a_side(comparison_id, person))  # the person: the new checkpoint, 4 of 4
        for labeler in (robot, later):  # the AI labeler and `later`: the old one, 4 of 4
            old = Choice.right if a_side(comparison_id, labeler) == Choice.left else Choice.left
            vote(comparison_id, labeler, old)
    vote(eval_ids[0], clicker, Choice.tie)

    def counted() -> tuple[int, int, int]:
        ((_, tally),) = evaluations.evaluations()
        registry = checkpoints.registry(with_evaluations=True)
        _, listed = registry.evaluations[serving]  # `human_eval` of GET /checkpoints and `checkpoints list`
        assert (listed.wins, listed.losses, listed.ties) == (tally.wins, tally.losses, tally.ties)
        assert f"of {tally.decided} votes" in describe(*registry.evaluations[serving])
        rating = {r.checkpoint_id: r for r in arena.arena(bootstrap=0).ratings}[serving]
        assert (rating.wins, rating.losses, rating.ties) == (tally.wins, tally.losses, tally.ties)
        return tally.wins, tally.losses, tally.ties

    assert counted() == (4, 4, 1)  # `later` and the clicker are in good standing: they count; the AI does not
    quality.set_override(later, quality.EXCLUDED)  # found out after voting: stops counting at once
    assert counted() == (4, 0, 1)
    for comparison_id in train_ids:  # the clicker's later votes put them out of standing by the rules
        vote(comparison_id, clicker, Choice.left)
    assert counted() == (4, 0, 0)
    quality.set_override(later, None)  # back to the rules, which find nothing against `later`
    assert counted() == (4, 4, 0)
