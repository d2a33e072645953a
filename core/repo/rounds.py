"""Training rounds: start one (at most one at a time, by a unique slot), follow it, end it.

A queued or running round holds `active_slot = 1`; the unique index on that column means a second
start fails in the database itself, whichever process tries. Ending a round frees the slot.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from core.db.models import Comparison, RoundStep, TrainingRound, Vote
from core.states import DECISIVE, ComparisonKind, RoundState, RoundTrigger

ACTIVE = 1


def running_round(session: Session) -> TrainingRound | None:
    """The queued or running round, if any."""
    return session.scalar(select(TrainingRound).where(TrainingRound.active_slot == ACTIVE))


def add_round(session: Session, trigger: RoundTrigger, config: dict, requested_by: str | None = None) -> TrainingRound:
    """Insert a queued round holding the slot; the flush raises IntegrityError if one is active."""
    row = TrainingRound(state=RoundState.queued, active_slot=ACTIVE, trigger=trigger, config=config,
                        requested_by=requested_by, counts={}, metrics={})  # fmt: skip
    session.add(row)
    session.flush()
    return row


def list_rounds(session: Session, limit: int) -> list[TrainingRound]:
    return list(session.scalars(select(TrainingRound).order_by(TrainingRound.id.desc()).limit(limit)))


def finish_round(session: Session, row: TrainingRound, state: RoundState, error: str | None = None) -> None:
    row.state, row.active_slot, row.finished_at = state, None, datetime.now(UTC)
    if error is not None:
        row.error = error


def request_cancel(session: Session, row: TrainingRound) -> None:
    """A queued round ends now; a running one stops at its next step (the worker checks)."""
    if row.state == RoundState.queued:
        finish_round(session, row, RoundState.cancelled, "cancelled before it started")
    elif row.state == RoundState.running:
        row.cancel_requested = True


def add_step(session: Session, round_id: int, metrics: dict) -> None:
    session.add(RoundStep(round_id=round_id, step=int(metrics["step"]), metrics=metrics))
    session.execute(update(TrainingRound).where(TrainingRound.id == round_id).values(heartbeat_at=datetime.now(UTC)))


def steps_of(session: Session, round_id: int, after: int = 0) -> list[RoundStep]:
    return list(
        session.scalars(
            select(RoundStep).where(RoundStep.round_id == round_id, RoundStep.step > after).order_by(RoundStep.step)
        )  # fmt: skip
    )


def last_trained_vote_id(session: Session) -> int:
    """The newest vote a successful round has trained on (0 before the first)."""
    return (
        session.scalar(
            select(func.max(TrainingRound.snapshot_vote_id)).where(TrainingRound.state == RoundState.succeeded)
        )
        or 0
    )


def new_decisive_comparisons(session: Session) -> int:
    """Train comparisons with a decisive vote newer than what the last successful round used."""
    return (
        session.scalar(
            select(func.count(func.distinct(Vote.comparison_id)))
            .join(Comparison, Comparison.id == Vote.comparison_id)
            .where(
                Vote.id > last_trained_vote_id(session),
                Vote.choice.in_(DECISIVE),
                Comparison.kind == ComparisonKind.train,
            )
        )
        or 0
    )


def last_scheduled_start(session: Session) -> datetime | None:
    scheduled = TrainingRound.trigger == RoundTrigger.schedule
    value = session.scalar(select(func.max(TrainingRound.created_at)).where(scheduled))
    if value is not None and value.tzinfo is None:  # SQLite returns naive datetimes
        value = value.replace(tzinfo=UTC)
    return value


def fail_stale_rounds(session: Session, stale_s: float) -> list[int]:
    """Running rounds that stopped reporting (their worker died) become failed; their slot frees."""
    cutoff = datetime.now(UTC) - timedelta(seconds=stale_s)
    lost = []
    for row in session.scalars(select(TrainingRound).where(TrainingRound.state == RoundState.running)):
        pulse = row.heartbeat_at or row.started_at or row.created_at
        if pulse.tzinfo is None:
            pulse = pulse.replace(tzinfo=UTC)
        if pulse < cutoff:
            finish_round(session, row, RoundState.failed, f"the worker running it was lost (silent {stale_s:.0f} s)")
            lost.append(row.id)
    return lost
