"""Undo, on SQLite and Postgres: a labeler takes back their most recent vote within the window; the pair it
had closed reopens for them; a vote that is not their latest, too old, or already used by a round, a
preference model or a verdict stays; the vote counters keep counting what was cast."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from core.db.models import Candidacy, Comparison, RewardModel, TrainingRound, Vote, VoteRetraction
from core.db.session import session_scope
from core.services import campaigns, labeling, loop_metrics
from core.settings import get_settings
from core.states import CandidateState, Choice, ComparisonState, EvaluationKind, RewardModelState, RoundState
from tests.api.test_evaluations_api import new_checkpoint
from tests.conftest import apply_settings
from tests.helpers.data import make_comparisons, make_labeler, serve
from tests.services import test_people_measure
from tests.services.test_people_measure import measured

any_db = test_people_measure.any_db  # the fixture: SQLite, then Postgres


def cast(comparison_id: int, labeler_id: int, choice: Choice = Choice.left) -> int:
    serve(comparison_id, labeler_id)
    return labeling.vote(comparison_id, labeler_id, choice, 900, get_settings()).vote.id


def refused(comparison_id: int, labeler_id: int) -> str:
    with pytest.raises(labeling.RetractionRefused) as caught:
        labeling.retract(comparison_id, labeler_id, get_settings())
    return str(caught.value)


def test_a_vote_taken_back_reopens_the_pair_for_its_labeler_who_votes_again(any_db):
    alice, _ = make_labeler("alice")
    bob, _ = make_labeler("bob")
    (pair,) = make_comparisons(1)
    vote_id = cast(pair, alice, Choice.left)
    retraction = labeling.retract(pair, alice, get_settings())
    assert retraction.vote_id == vote_id and retraction.reopened
    with session_scope() as session:
        row = session.get(Comparison, pair)
        assert (row.state, row.vote_count, row.leased_by) == (ComparisonState.ready, 0, alice)
        assert session.scalar(select(func.count(Vote.id))) == 0
        trace = session.scalars(select(VoteRetraction)).one()
        assert (trace.vote_id, trace.comparison_id, trace.labeler_id, trace.choice) == (vote_id, pair, alice, "left")
    assert labeling.next_comparison(bob, get_settings()) is None  # held for alice, not handed to someone else
    again = labeling.vote(pair, alice, Choice.right, 700, get_settings())
    assert again.created and again.vote.choice == Choice.right
    with pytest.raises(labeling.NoVoteToRetract):  # bob never voted on it
        labeling.retract(pair, bob, get_settings())
    # The counters count every vote cast: the one taken back too, so they never go down.
    state = loop_metrics._read_state(get_settings())
    assert (state.votes["left"], state.votes["right"], state.votes_retracted) == (1, 1, 1)


def test_only_the_latest_vote_within_the_window_can_be_taken_back(any_db):
    alice, _ = make_labeler("alice")
    first, second = make_comparisons(2)
    cast(first, alice)
    cast(second, alice)
    assert "most recent" in refused(first, alice)
    with session_scope() as session:
        session.execute(update(Vote).where(Vote.comparison_id == second)
                        .values(created_at=datetime.now(UTC) - timedelta(seconds=11)))  # fmt: skip
    assert "too late" in refused(second, alice) and "10 s" in refused(second, alice)
    with pytest.raises(labeling.NoVoteToRetract):
        labeling.retract(make_comparisons(1, seed=5)[0], alice, get_settings())


def test_a_window_of_zero_turns_undo_off(any_db, monkeypatch):
    alice, _ = make_labeler("alice")
    (pair,) = make_comparisons(1)
    cast(pair, alice)
    apply_settings(monkeypatch, undo_window_s=0)
    assert "too late" in refused(pair, alice)


def test_a_vote_a_round_or_a_preference_model_snapshot_stays(any_db):
    alice, _ = make_labeler("alice")
    first, second, third = make_comparisons(3)
    in_round = cast(first, alice)
    with session_scope() as session:
        session.add(TrainingRound(state=RoundState.running, trigger="admin", snapshot_vote_id=in_round))
    assert "training round" in refused(first, alice)
    in_model = cast(second, alice)
    with session_scope() as session:
        session.add(RewardModel(state=RewardModelState.training, features="latents+text", requested_by="cli",
                                snapshot_vote_id=in_model))  # fmt: skip
    assert "preference model" in refused(second, alice)
    cast(third, alice)  # newer than both snapshots
    assert labeling.retract(third, alice, get_settings()).reopened


def test_another_campaigns_round_or_preference_model_does_not_hold_a_vote(any_db):
    """Each campaign trains on its own votes only, so a snapshot of another campaign past the vote never read it."""
    alice, _ = make_labeler("alice")
    (first,) = make_comparisons(1)
    vote = cast(first, alice)
    hands = campaigns.create("hands", "", open_to_all=True, by="root").id
    with session_scope() as session:
        session.add(TrainingRound(state=RoundState.running, trigger="admin", snapshot_vote_id=vote, campaign_id=hands))
        session.add(RewardModel(state=RewardModelState.training, features="latents+text", requested_by="cli",
                                snapshot_vote_id=vote, campaign_id=hands))  # fmt: skip
    assert labeling.retract(first, alice, get_settings()).reopened


def test_a_vote_a_verdict_counted_stays_and_one_still_judged_is_recounted(any_db, tmp_path):
    alice, _ = make_labeler("alice")
    candidate = new_checkpoint(tmp_path, "candidate")
    with session_scope() as session:
        row = Candidacy(checkpoint_id=candidate, serving_id=1, state=CandidateState.judging)
        session.add(row)
        session.flush()
        candidacy_id = row.id
    judged, decided = measured(candidate, 1, 2, EvaluationKind.promotion)
    cast(judged, alice)
    with session_scope() as session:
        assert sum(session.execute(select(Candidacy.wins, Candidacy.losses)).one()) == 1
    labeling.retract(judged, alice, get_settings())
    with session_scope() as session:  # the tallies no longer count the vote taken back
        assert sum(session.execute(select(Candidacy.wins, Candidacy.losses)).one()) == 0
    cast(decided, alice)
    with session_scope() as session:
        session.execute(update(Candidacy).where(Candidacy.id == candidacy_id).values(state=CandidateState.rejected))
    assert "verdict" in refused(decided, alice)


def test_with_several_votes_a_pair_stays_open_and_someone_elses_hold_is_kept(any_db, monkeypatch):
    apply_settings(monkeypatch, votes_per_comparison=2)
    alice, _ = make_labeler("alice")
    bob, _ = make_labeler("bob")
    (pair,) = make_comparisons(1)
    cast(pair, alice)
    serve(pair, bob)  # bob holds it now
    retraction = labeling.retract(pair, alice, get_settings())
    assert not retraction.reopened  # bob's screen is not taken from him
    with session_scope() as session:
        row = session.get(Comparison, pair)
        assert (row.state, row.vote_count, row.leased_by) == (ComparisonState.ready, 0, bob)
