"""Undo: a labeler takes back their most recent vote, within the undo window, unless something already
used it. What uses a vote: a training round or a preference model of its campaign that snapshot it (every
vote up to their `snapshot_vote_id`), and a candidate's verdict that counted it. Anything else reads votes when it
runs (quality, arena, exports), so a vote gone is simply absent from the next read.

The vote row is deleted and a VoteRetraction row records it. The comparison gets its vote back: a comparison
the vote had closed reopens, held for the same labeler, so that they can vote again under the same handle.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from core.db.models import Candidacy, Comparison, RewardModel, TrainingRound, Vote, VoteRetraction
from core.states import CandidateState, ComparisonKind, ComparisonState


class NoVoteToRetract(LookupError):
    """This labeler has no vote on the comparison (never cast, or already taken back)."""


class RetractionRefused(RuntimeError):
    """The vote stays: not the labeler's latest, past the window, or already used."""


@dataclass(frozen=True)
class Retraction:
    vote_id: int
    reopened: bool  # the comparison is held for this labeler again: the same handle takes a new vote


def retract_latest_vote(
    session: Session, comparison_id: int, labeler_id: int, window_s: float, votes_per_comparison: int,
    lease_s: float,
) -> Retraction:  # fmt: skip
    """Take back the labeler's vote on this comparison; NoVoteToRetract or RetractionRefused (with the reason)."""
    now = datetime.now(UTC)
    vote = session.scalars(
        select(Vote).where(Vote.comparison_id == comparison_id, Vote.labeler_id == labeler_id).with_for_update()
    ).first()  # fmt: skip
    if vote is None:
        raise NoVoteToRetract("you have no vote on this pair")
    if vote.id != session.scalar(select(func.max(Vote.id)).where(Vote.labeler_id == labeler_id)):
        raise RetractionRefused("only your most recent vote can be taken back")
    if now - vote.created_at > timedelta(seconds=window_s):
        raise RetractionRefused(f"too late: a vote can be taken back for {window_s:g} s after it is cast")
    if reason := used_by(session, vote):
        raise RetractionRefused(f"it is already {reason}")
    row = session.execute(
        select(Comparison.kind, Comparison.state, Comparison.vote_count, Comparison.leased_by,
               Comparison.leased_until)
        .where(Comparison.id == comparison_id).with_for_update()
    ).one()  # fmt: skip
    session.add(VoteRetraction(vote_id=vote.id, comparison_id=comparison_id, labeler_id=labeler_id,
                               choice=vote.choice, cast_at=vote.created_at, retracted_at=now))  # fmt: skip
    session.execute(delete(Vote).where(Vote.id == vote.id))
    # The vote closed the comparison: it needs that vote again (a retired one stays retired: its checkpoint is gone).
    state = row.state
    if state == ComparisonState.done and row.vote_count - 1 < votes_per_comparison:
        state = ComparisonState.ready
    someone_else_holds = (row.leased_by not in (None, labeler_id)
                          and row.leased_until is not None and row.leased_until > now)  # fmt: skip
    reopened = state == ComparisonState.ready and not someone_else_holds
    values = {"vote_count": Comparison.vote_count - 1, "state": state}
    if reopened:
        values |= {"leased_by": labeler_id, "leased_until": now + timedelta(seconds=lease_s)}
    session.execute(update(Comparison).where(Comparison.id == comparison_id).values(**values))
    return Retraction(vote.id, reopened)


def used_by(session: Session, vote: Vote) -> str | None:
    """What already used this vote, in words; None when nothing did. Conservative: a round or preference
    model that snapshot it counts even if it failed, since its record names the votes it saw. Only the vote's
    own campaign's rounds and models read it, so another campaign's snapshot does not hold it."""
    campaign_id = session.scalar(select(Comparison.campaign_id).where(Comparison.id == vote.comparison_id))
    round_id = session.scalar(
        select(func.min(TrainingRound.id))
        .where(TrainingRound.snapshot_vote_id >= vote.id, TrainingRound.campaign_id == campaign_id)
    )  # fmt: skip
    if round_id is not None:
        return f"in training round {round_id}"
    model = session.scalar(
        select(func.min(RewardModel.id))
        .where(RewardModel.snapshot_vote_id >= vote.id, RewardModel.campaign_id == campaign_id)
    )  # fmt: skip
    if model is not None:
        return f"in the preference model v{model:04d}"
    decided = session.scalar(
        select(Candidacy.state)
        .join(Comparison, Comparison.checkpoint_id == Candidacy.checkpoint_id)
        .where(Comparison.id == vote.comparison_id, Comparison.kind == ComparisonKind.eval,
               Candidacy.state != CandidateState.judging)
    )  # fmt: skip
    if decided is not None:
        return f"counted in a candidate's verdict ({decided})"
    return None
