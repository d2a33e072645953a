from core.services import labeling
from core.states import Choice, ComparisonState
from tests.helpers.data import make_comparisons, make_labeler, serve


def test_a_served_comparison_is_leased_to_one_labeler_and_a_vote_is_recorded_once(sqlite_db):
    alice, _ = make_labeler("alice")
    bob, _ = make_labeler("bob")
    (only,) = make_comparisons(1)
    served = labeling.next_comparison(alice, sqlite_db)
    assert served is not None and served.id == only
    assert labeling.next_comparison(bob, sqlite_db) is None  # leased to alice
    first = labeling.vote(only, alice, Choice.left, 1200, sqlite_db)
    again = labeling.vote(only, alice, Choice.right, 10, sqlite_db)
    assert first.created and not again.created
    assert again.vote.id == first.vote.id and again.vote.choice == Choice.left
    assert labeling.next_comparison(alice, sqlite_db) is None  # done: one vote per comparison by default


def test_a_vote_on_no_comparison_is_refused_with_its_own_error(sqlite_db):
    alice, _ = make_labeler("alice")
    try:
        labeling.vote(999, alice, Choice.tie, None, sqlite_db)
    except labeling.ComparisonNotFound as exc:
        assert "no such comparison" in str(exc) and "999" not in str(exc)  # labelers must never see a row id
    else:
        raise AssertionError("a vote on a missing comparison was accepted")


def test_votes_commit_with_the_service(sqlite_db):
    """The service owns the transaction: what it returns is already in the database."""
    from core.db.models import Comparison
    from core.db.session import session_scope

    alice, _ = make_labeler("alice")
    (only,) = make_comparisons(1)
    serve(only, alice)
    labeling.vote(only, alice, Choice.right, None, sqlite_db)
    with session_scope() as session:
        row = session.get(Comparison, only)
        assert row.vote_count == 1 and row.state == ComparisonState.done


def test_a_vote_needs_the_pair_served_to_the_voter_and_still_open(sqlite_db):
    import pytest

    alice, _ = make_labeler("alice")
    bob, _ = make_labeler("bob")
    first, second = make_comparisons(2)
    with pytest.raises(labeling.NotOpen):  # never shown to alice
        labeling.vote(first, alice, Choice.left, None, sqlite_db)
    assert labeling.next_comparison(alice, sqlite_db).id == first
    with pytest.raises(labeling.NotOpen):  # alice holds it
        labeling.vote(first, bob, Choice.left, None, sqlite_db)
    assert labeling.vote(first, alice, Choice.left, None, sqlite_db).created
    serve(second, bob)
    from core.services import checkpoints  # a promotion retires the pool's pairs

    retire_the_pool()
    with pytest.raises(labeling.NotOpen):
        labeling.vote(second, bob, Choice.left, None, sqlite_db)
    assert not labeling.vote(first, alice, Choice.right, None, sqlite_db).created  # a repeat still answers
    assert checkpoints.active_ref().id == 1


def retire_the_pool() -> None:
    from sqlalchemy import update

    from core.db.models import Comparison
    from core.db.session import session_scope
    from core.states import ComparisonState

    with session_scope() as session:
        session.execute(update(Comparison).values(state=ComparisonState.retired))


def test_sides_are_keyed_by_the_install_secret(sqlite_db):
    from core.db.models import Install
    from core.db.session import session_scope
    from core.repo import install
    from tests.helpers.data import sees_a_on_the_left

    before = [sees_a_on_the_left(cid, 7) for cid in range(200)]
    assert 70 < sum(before) < 130 and [sees_a_on_the_left(cid, 7) for cid in range(200)] == before  # stable
    with session_scope() as session:
        session.get(Install, 1).secret = "00" * 32
    install._secrets.clear()
    assert [sees_a_on_the_left(cid, 7) for cid in range(200)] != before


def test_one_labeler_holds_at_most_the_cap_and_held_pairs_leave_the_pool_count(sqlite_db, monkeypatch):
    from core.db.session import session_scope
    from core.repo.comparisons import ready_pool_count
    from core.settings import get_settings
    from tests.conftest import apply_settings

    apply_settings(monkeypatch, max_held_per_labeler=2)
    settings = get_settings()
    alice, _ = make_labeler("alice")
    make_comparisons(6)
    shown = []
    for _ in range(5):  # the client excludes every pair it was given (by handle), trying to hoard the pool
        shown.append(labeling.next_comparison(alice, settings, exclude=[s.handle for s in shown]))
    assert len({s.id for s in shown}) == 5
    with session_scope() as session:
        assert ready_pool_count(session, 1) == 4  # six ready, two held
    bob, _ = make_labeler("bob")
    assert labeling.next_comparison(bob, settings).id == shown[0].id  # alice's oldest hold lapsed
    assert labeling.vote(shown[-1].id, alice, Choice.left, None, settings).created  # her newest is still hers


def test_a_stale_candidate_is_not_leased_once_voted_on(sqlite_db):
    """On SQLite the candidates are read before the write transaction begins: a pair voted on (done)
    in between must not be leased to the next labeler (they could never vote on it)."""
    from datetime import UTC, datetime

    from sqlalchemy import select

    from core.db.models import Comparison
    from core.db.session import session_scope
    from core.repo.comparisons import _lease
    from core.states import ComparisonState

    (pair,) = make_comparisons(1)
    with session_scope() as session:
        session.get(Comparison, pair).state = ComparisonState.done  # another labeler's vote, just now
    labeler_id, _ = make_labeler("late")
    with session_scope() as session:
        stale = select(Comparison.id).where(Comparison.id == pair)  # what the earlier read saw
        assert _lease(session, labeler_id, datetime.now(UTC), 60.0, stale) is None
        assert session.get(Comparison, pair).leased_by is None
