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
