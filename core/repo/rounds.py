"""Training rounds: start one (at most one at a time, by a unique slot), follow it, end it.

A queued or running round holds `active_slot = 1`; the unique index on that column means a second
start fails in the database itself, whichever process tries. Ending a round frees the slot.

A running round belongs to the claim that runs it (`claim_token`): its heartbeat, its steps, its end
and its checkpoint are compare-and-set writes under that token while it is still running, so a round
declared lost (or taken over after its worker died) can never be ended, or promote, by the old claim.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from core.db.models import DEFAULT_CAMPAIGN_ID, Comparison, RoundStep, TrainingRound, Vote
from core.states import DECISIVE, ComparisonKind, RoundState, RoundTrigger

ACTIVE = 1


def running_round(session: Session) -> TrainingRound | None:
    """The queued or running round, if any."""
    return session.scalar(select(TrainingRound).where(TrainingRound.active_slot == ACTIVE))


def add_round(session: Session, trigger: RoundTrigger, config: dict, requested_by: str | None = None,
              campaign_id: int = DEFAULT_CAMPAIGN_ID) -> TrainingRound:  # fmt: skip
    """Insert a queued round of a campaign holding the slot (one round at a time in the install, whatever
    the campaign: one train queue); the flush raises IntegrityError if one is active."""
    row = TrainingRound(state=RoundState.queued, active_slot=ACTIVE, trigger=trigger, config=config,
                        requested_by=requested_by, counts={}, metrics={}, campaign_id=campaign_id)  # fmt: skip
    session.add(row)
    session.flush()
    return row


def list_rounds(session: Session, limit: int, campaign_id: int | None = None) -> list[TrainingRound]:
    query = select(TrainingRound).order_by(TrainingRound.id.desc()).limit(limit)
    if campaign_id is not None:
        query = query.where(TrainingRound.campaign_id == campaign_id)
    return list(session.scalars(query))


def finish_round(session: Session, row: TrainingRound, state: RoundState, error: str | None = None) -> None:
    """End a round this transaction holds (queued, or refused at its claim)."""
    row.state, row.active_slot, row.finished_at = state, None, datetime.now(UTC)
    if error is not None:
        row.error = error


def _held(round_id: int, claim_token: str):
    return (TrainingRound.id == round_id, TrainingRound.state == RoundState.running,
            TrainingRound.claim_token == claim_token)  # fmt: skip


def beat(session: Session, round_id: int, claim_token: str) -> bool:
    """Refresh a running round's heartbeat; False when the claim no longer holds it (lost or taken over).
    On Postgres the row stays locked until the transaction ends: nothing can end it meanwhile."""
    done = session.execute(update(TrainingRound).where(*_held(round_id, claim_token))
                           .values(heartbeat_at=datetime.now(UTC)))  # fmt: skip
    return done.rowcount == 1


def end_claimed(
    session: Session, round_id: int, claim_token: str, state: RoundState, error: str | None = None,
    checkpoint_id: int | None = None,
) -> bool:
    """End a running round by its own claim (compare-and-set); False when the claim lost it."""
    values = {"state": state, "active_slot": None, "finished_at": datetime.now(UTC)}
    if error is not None:
        values["error"] = error
    if checkpoint_id is not None:
        values["checkpoint_id"] = checkpoint_id
    return session.execute(update(TrainingRound).where(*_held(round_id, claim_token)).values(**values)).rowcount == 1


def request_cancel(session: Session, row: TrainingRound) -> None:
    """A queued round ends now; a running one stops at its next step (the worker checks)."""
    if row.state == RoundState.queued:
        finish_round(session, row, RoundState.cancelled, "cancelled before it started")
    elif row.state == RoundState.running:
        row.cancel_requested = True


def add_step(session: Session, round_id: int, claim_token: str, metrics: dict) -> bool:
    """Store a step's metrics (which is also a heartbeat); False, storing nothing, when the claim lost the round."""
    if not beat(session, round_id, claim_token):
        return False
    session.add(RoundStep(round_id=round_id, step=int(metrics["step"]), metrics=metrics))
    return True


def steps_of(session: Session, round_id: int, after: int = 0) -> list[RoundStep]:
    return list(
        session.scalars(
            select(RoundStep).where(RoundStep.round_id == round_id, RoundStep.step > after).order_by(RoundStep.step)
        )  # fmt: skip
    )


def last_trained_vote_id(session: Session, campaign_id: int = DEFAULT_CAMPAIGN_ID) -> int:
    """The newest vote a successful round of the campaign has trained on (0 before the first)."""
    return (
        session.scalar(
            select(func.max(TrainingRound.snapshot_vote_id))
            .where(TrainingRound.state == RoundState.succeeded, TrainingRound.campaign_id == campaign_id)
        )
        or 0
    )  # fmt: skip


def new_decisive_comparisons(session: Session, campaign_id: int = DEFAULT_CAMPAIGN_ID) -> int:
    """The campaign's train comparisons with a decisive vote newer than what its last successful round used."""
    return (
        session.scalar(
            select(func.count(func.distinct(Vote.comparison_id)))
            .join(Comparison, Comparison.id == Vote.comparison_id)
            .where(
                Vote.id > last_trained_vote_id(session, campaign_id),
                Vote.choice.in_(DECISIVE),
                Comparison.kind == ComparisonKind.train,
                Comparison.campaign_id == campaign_id,
            )
        )
        or 0
    )


def last_scheduled_start(session: Session, campaign_id: int = DEFAULT_CAMPAIGN_ID) -> datetime | None:
    scheduled = TrainingRound.trigger == RoundTrigger.schedule, TrainingRound.campaign_id == campaign_id
    return session.scalar(select(func.max(TrainingRound.created_at)).where(*scheduled))


def fail_stale_rounds(session: Session, stale_s: float) -> list[int]:
    """Running rounds that stopped reporting (their worker died) become failed and free the slot: one
    conditional UPDATE, so a round whose heartbeat lands first is left alone."""
    cutoff = datetime.now(UTC) - timedelta(seconds=stale_s)
    pulse = func.coalesce(TrainingRound.heartbeat_at, TrainingRound.started_at, TrainingRound.created_at)
    lost = session.execute(
        update(TrainingRound)
        .where(TrainingRound.state == RoundState.running, pulse < cutoff)
        .values(state=RoundState.failed, active_slot=None, finished_at=datetime.now(UTC),
                error=f"the worker running it was lost (silent {stale_s:.0f} s)")
        .returning(TrainingRound.id)
    )  # fmt: skip
    return [row_id for (row_id,) in lost]
