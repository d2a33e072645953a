"""Admin: training rounds — start one, list them, follow one's curves, cancel it."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import ValidationError
from sqlalchemy import select

from app.api.deps import DB, Admin, AppSettings, Id
from app.db.models import RoundState, TrainingRound
from app.repo.rounds import RoundBusy, request_cancel, steps_of
from app.round_queue import QueueUnavailable, queue_round, resolve_config
from app.schemas.api import RoundIn, RoundOut, RoundStepOut

router = APIRouter(prefix="/admin/rounds", tags=["rounds"])


def to_out(row: TrainingRound, steps=None) -> RoundOut:
    out = RoundOut.model_validate(row, from_attributes=True)
    out.state = row.state.value
    if steps is not None:
        out.steps = [RoundStepOut(step=s.step, metrics=s.metrics) for s in steps]
    return out


def _get(db, round_id: int) -> TrainingRound:
    row = db.get(TrainingRound, round_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"round {round_id} does not exist")
    return row


@router.post("", response_model=RoundOut, status_code=status.HTTP_202_ACCEPTED)
def start(body: RoundIn, admin: Admin, db: DB, settings: AppSettings) -> RoundOut:
    """Queue a round now (one at a time: 409 while another is queued or running)."""
    try:
        config = resolve_config(settings, body.config)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"invalid round config: {problems}") from exc
    try:
        row = queue_round(db, "admin", config.model_dump(), requested_by=admin.name)
    except RoundBusy as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    except QueueUnavailable as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the task queue is unreachable; try again") from exc
    return to_out(row)


@router.get("", response_model=list[RoundOut])
def list_rounds(_: Admin, db: DB, limit: int = Query(50, ge=1, le=1000)) -> list[RoundOut]:
    return [to_out(r) for r in db.scalars(select(TrainingRound).order_by(TrainingRound.id.desc()).limit(limit))]


@router.get("/{round_id}", response_model=RoundOut)
def get_round(
    round_id: Id, _: Admin, db: DB, after_step: int = Query(0, ge=0, description="Only steps after this one.")
) -> RoundOut:
    """One round with its per-step metrics (poll with after_step for new points)."""
    row = _get(db, round_id)
    return to_out(row, steps_of(db, round_id, after_step))


@router.post("/{round_id}/cancel", response_model=RoundOut)
def cancel(round_id: Id, _: Admin, db: DB) -> RoundOut:
    row = _get(db, round_id)
    if row.state not in (RoundState.queued, RoundState.running):
        raise HTTPException(status.HTTP_409_CONFLICT, f"round {round_id} already ended ({row.state.value})")
    request_cancel(db, row)
    db.commit()
    return to_out(row)
