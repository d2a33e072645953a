"""Which checkpoints exist, which one serves, and promoting one (which is also how to roll back)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query, status

from app.api.deps import DB, Admin, CurrentLabeler, Id
from app.db.models import Checkpoint
from app.repo.checkpoints import PromotionRefused, active_checkpoint_id, deployments, list_checkpoints, promote
from app.schemas.api import CheckpointOut, DeploymentOut, PromoteIn

router = APIRouter(tags=["checkpoints"])


def to_out(c: Checkpoint, active_id: int) -> CheckpointOut:
    return CheckpointOut(
        id=c.id, name=c.name, kind=c.kind, path=c.path, parent_id=c.parent_id, round_id=c.round_id, status=c.status,
        status_reason=c.status_reason, metrics=c.metrics or {}, created_at=c.created_at, active=c.id == active_id,
    )  # fmt: skip


@router.get("/checkpoints", response_model=list[CheckpointOut])
def checkpoints(_: CurrentLabeler, db: DB) -> list[CheckpointOut]:
    """Every checkpoint with its lineage (parent, round), metrics, gate verdict and whether it serves."""
    active = active_checkpoint_id(db)
    return [to_out(c, active) for c in list_checkpoints(db)]


@router.get("/checkpoints/active", response_model=CheckpointOut)
def active(_: CurrentLabeler, db: DB) -> CheckpointOut:
    active_id = active_checkpoint_id(db)
    return to_out(db.get(Checkpoint, active_id), active_id)


@router.post("/admin/checkpoints/{checkpoint_id}/promote", response_model=DeploymentOut, tags=["admin"])
def promote_checkpoint(checkpoint_id: Id, admin: Admin, db: DB, body: PromoteIn | None = None) -> DeploymentOut:
    """Serve this checkpoint from now on; workers swap within about a second. Promoting an older
    checkpoint is a rollback. A rejected (gate-failed) checkpoint may be promoted by hand; a broken one not."""
    try:
        deployment = promote(db, checkpoint_id, by=admin.name, reason=(body.reason if body else None) or "admin")
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except PromotionRefused as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    db.commit()
    return DeploymentOut.model_validate(deployment, from_attributes=True)


@router.get("/admin/deployments", response_model=list[DeploymentOut], tags=["admin"])
def deployment_history(_: Admin, db: DB, limit: int = Query(100, ge=1, le=1000)) -> list[DeploymentOut]:
    """Promotions and rollbacks, newest first."""
    return [DeploymentOut.model_validate(d, from_attributes=True) for d in deployments(db, limit)]
