from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from core.db.models import Vote
from core.db.session import session_scope
from core.services import labeling
from core.services.labeler_stats import labeler_stats
from core.settings import get_settings
from core.states import Choice
from tests.conftest import apply_settings
from tests.helpers.data import make_comparisons, make_labeler, sees_a_on_the_left, serve


def vote(comparison_id: int, labeler_id: int, for_a: bool | None, ms: int, choice: Choice | None = None) -> None:
    if choice is None:
        choice = Choice.left if sees_a_on_the_left(comparison_id, labeler_id) == for_a else Choice.right
    serve(comparison_id, labeler_id)
    labeling.vote(comparison_id, labeler_id, choice, ms, get_settings())


def test_pace_passes_and_agreement_with_the_others(sqlite_db, monkeypatch):
    apply_settings(monkeypatch, votes_per_comparison=4)
    first, second = make_comparisons(2)
    alice, bob, dan, carol = (make_labeler(n)[0] for n in ("alice", "bob", "dan", "carol"))
    for labeler in (alice, bob, dan):
        vote(first, labeler, for_a=True, ms=1000)
    vote(first, carol, for_a=False, ms=200)  # the odd one out, and fast
    vote(second, alice, None, ms=3000, choice=Choice.tie)
    vote(second, carol, None, ms=100, choice=Choice.skip)
    stats = {s.name: s for s in labeler_stats()}
    assert stats["alice"].votes == 2 and stats["alice"].votes_last_hour == 2
    assert stats["alice"].median_decision_ms == 2000 and stats["alice"].tie_share == 0.5
    assert stats["alice"].agreement == 1.0 and stats["alice"].agreement_votes == 1
    assert stats["carol"].agreement == 0.0 and stats["carol"].skip_share == 0.5
    assert stats["carol"].median_decision_ms == 150
    assert stats["bob"].both_bad_share == 0.0 and stats["bob"].agreement == 1.0


@pytest.fixture(params=["sqlite", "postgres"])
def any_db(request):
    """The statistics are SQL (window functions, grouped sums): each database answers them."""
    return request.getfixturevalue("sqlite_db" if request.param == "sqlite" else "pg_settings")


def test_medians_of_odd_and_even_counts_even_splits_and_the_last_hour(any_db, monkeypatch):
    apply_settings(monkeypatch, votes_per_comparison=5)
    split, lone, *rest = make_comparisons(5)
    ann, ben, cat, dov, eve = (make_labeler(n)[0] for n in ("ann", "ben", "cat", "dov", "eve"))
    make_labeler("idle")
    for labeler, for_a in ((ann, True), (ben, True), (cat, False), (dov, False)):
        vote(split, labeler, for_a, ms=100)  # 2 against 2: each voter's others are 1 against 2
    vote(lone, eve, True, ms=100)  # nobody else voted on it: no majority to agree with
    with session_scope() as session:  # and eve voted two hours ago
        two_hours_ago = datetime.now(UTC) - timedelta(hours=2)
        session.execute(update(Vote).where(Vote.labeler_id == eve).values(created_at=two_hours_ago))
    for comparison, ms in zip(rest, (900, 300, 500), strict=True):
        vote(comparison, ann, True, ms=ms)  # ann: 100, 300, 500, 900
        vote(comparison, ben, None, ms=ms * 2, choice=Choice.both_bad)  # ben: 100, 600, 1000, 1800
    vote(rest[0], cat, True, ms=700)  # cat: 100, 700; on rest[0] she chose ann's image
    vote(rest[1], dov, None, ms=2000, choice=Choice.skip)
    vote(rest[2], dov, None, ms=50, choice=Choice.skip)  # dov: 50, 100, 2000
    stats = {s.name: s for s in labeler_stats()}
    assert stats["ann"].median_decision_ms == 400 and stats["ben"].median_decision_ms == 800
    assert stats["cat"].median_decision_ms == 400 and stats["eve"].median_decision_ms == 100
    assert stats["dov"].median_decision_ms == 100 and stats["dov"].skip_share == 2 / 3
    assert stats["idle"].votes == 0 and stats["idle"].median_decision_ms is None and stats["idle"].agreement is None
    assert stats["eve"].agreement is None and stats["eve"].agreement_votes == 0
    assert (stats["eve"].votes, stats["eve"].votes_last_hour) == (1, 0)
    # ann on `split`: the others are 1 for her image, 2 against — judged, disagreeing; on rest[0] cat agrees.
    assert (stats["ann"].agreement_votes, stats["ann"].agreement) == (2, 0.5)
    assert (stats["dov"].agreement_votes, stats["dov"].agreement) == (1, 0.0)
    assert stats["ben"].both_bad_share == 0.75 and stats["ben"].votes_last_hour == 4
