"""Reports: a cap per labeler, and whose votes a report keeps out of training (the reporter's at once,
everyone's once an admin confirms it), on SQLite and Postgres."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from core.db.models import Comparison, Report
from core.db.session import session_scope
from core.repo.preferences import collect_preferences
from core.services import labeling, reports
from core.services.labelers import get_labeler
from core.settings import get_settings
from core.states import Choice, ComparisonState, ReportReason, ReportStatus
from tests.conftest import apply_settings
from tests.helpers.data import make_comparisons, make_labeler, sees_a_on_the_left, serve


@pytest.fixture(params=["sqlite", "postgres"])
def any_db(request):
    return request.getfixturevalue("sqlite_db" if request.param == "sqlite" else "pg_settings")


def vote_for_a(comparison_id: int, labeler_id: int) -> None:
    serve(comparison_id, labeler_id)
    choice = Choice.left if sees_a_on_the_left(comparison_id, labeler_id) else Choice.right
    labeling.vote(comparison_id, labeler_id, choice, None, get_settings())


def report(comparison_id: int, labeler_id: int):
    return reports.report(comparison_id, labeler_id, "both", ReportReason.harmful, get_settings())


def served_to_alice(count: int) -> tuple[list[int], int]:
    """`count` new pairs, each held by the new labeler alice (so she may report it)."""
    pairs = make_comparisons(count)
    alice, _ = make_labeler("alice")
    for pair in pairs:
        serve(pair, alice)
    return pairs, alice


def used_votes() -> tuple[int, int, list[tuple[int, int]]]:
    """Votes that train, votes left out for reports, and the pairs (votes for, against)."""
    with session_scope() as session:
        found = collect_preferences(session)
    pairs = [(p.votes_for, p.votes_against) for p in found.pairs]
    return found.counts["votes"], found.counts["votes_on_reported_pairs"], pairs


def test_a_report_withdraws_the_reporters_vote_and_the_others_only_once_an_admin_confirms(any_db, monkeypatch):
    apply_settings(monkeypatch, votes_per_comparison=3)
    (pair,) = make_comparisons(1)
    mallory, bob, carol = (make_labeler(n)[0] for n in ("mallory", "bob", "carol"))
    root = get_labeler(make_labeler("root", admin=True)[0])
    for labeler in (mallory, bob, carol):
        vote_for_a(pair, labeler)
    made, created = report(pair, mallory)
    assert created and made.status == ReportStatus.open
    assert used_votes() == (2, 1, [(2, 0)])  # hers leaves at once; bob's and carol's still train

    confirmed = reports.decide(made.id, ReportStatus.confirmed, root)
    assert (confirmed.report.status, confirmed.report.decided_by) == (ReportStatus.confirmed, "root")
    assert confirmed.report.decided_at is not None
    assert used_votes() == (0, 3, [])  # confirmed: nobody's vote on the pair trains
    dismissed = reports.decide(made.id, ReportStatus.dismissed, root)
    assert dismissed.report.status == ReportStatus.dismissed
    assert used_votes() == (2, 1, [(2, 0)])  # dismissed: the others' votes are back, hers stays out
    with pytest.raises(LookupError):
        reports.decide(9999, ReportStatus.confirmed, root)


def test_a_labeler_at_the_report_cap_is_told_when_to_come_back(any_db, monkeypatch):
    apply_settings(monkeypatch, report_rate_limit="2/hour")
    pairs, alice = served_to_alice(4)
    assert [report(pair, alice)[1] for pair in pairs[:2]] == [True, True]
    with pytest.raises(reports.ReportCapReached, match="2 reports in the last 1 hour") as refused:
        report(pairs[2], alice)
    assert 1 <= refused.value.retry_after_s <= 3601
    assert report(pairs[0], alice)[1] is False  # a report already made still answers
    with session_scope() as session:
        assert session.get(Comparison, pairs[2]).state == ComparisonState.ready  # still in the pool
        assert len(session.scalars(select(Report)).all()) == 2
    bob, _ = make_labeler("bob")
    serve(pairs[3], bob)
    assert report(pairs[3], bob)[1] is True  # a cap per labeler


def test_reports_sent_at_once_stop_at_the_cap(any_db, monkeypatch):
    apply_settings(monkeypatch, report_rate_limit="3/day")
    pairs, alice = served_to_alice(8)

    def attempt(pair: int) -> str:
        try:
            return "made" if report(pair, alice)[1] else "again"
        except reports.ReportCapReached:
            return "capped"

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(attempt, pairs))
    assert sorted(outcomes) == ["capped"] * 5 + ["made"] * 3
    with session_scope() as session:
        retired = session.scalars(select(Comparison.id).where(Comparison.state == ComparisonState.retired)).all()
    assert len(retired) == 3
