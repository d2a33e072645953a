"""Which checkpoints exist and which one serves."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import DB, CurrentLabeler
from app.db.models import Checkpoint
from app.repo.checkpoints import active_checkpoint_id, list_checkpoints
from app.schemas.api import CheckpointOut

router = APIRouter(tags=["checkpoints"])


def to_out(c: Checkpoint, active_id: int) -> CheckpointOut:
    return CheckpointOut(
        id=c.id, name=c.name, kind=c.kind, parent_id=c.parent_id, round_id=c.round_id, status=c.status,
        status_reason=c.status_reason, metrics=c.metrics or {}, created_at=c.created_at, active=c.id == active_id,
    )  # fmt: skip


@router.get("/checkpoints", response_model=list[CheckpointOut])
def checkpoints(_: CurrentLabeler, db: DB) -> list[CheckpointOut]:
    active = active_checkpoint_id(db)
    return [to_out(c, active) for c in list_checkpoints(db)]


@router.get("/checkpoints/active", response_model=CheckpointOut)
def active(_: CurrentLabeler, db: DB) -> CheckpointOut:
    active_id = active_checkpoint_id(db)
    return to_out(db.get(Checkpoint, active_id), active_id)
