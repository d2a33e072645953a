from core.services import labeling
from core.states import Choice, ComparisonState
from tests.helpers.data import make_comparisons, make_labeler


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
        assert "999" in str(exc)
    else:
        raise AssertionError("a vote on a missing comparison was accepted")


def test_votes_commit_with_the_service(sqlite_db):
    """The service owns the transaction: what it returns is already in the database."""
    from core.db.models import Comparison
    from core.db.session import session_scope

    alice, _ = make_labeler("alice")
    (only,) = make_comparisons(1)
    labeling.vote(only, alice, Choice.right, None, sqlite_db)
    with session_scope() as session:
        row = session.get(Comparison, only)
        assert row.vote_count == 1 and row.state == ComparisonState.done
