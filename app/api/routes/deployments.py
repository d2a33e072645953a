"""Admin: the promotions and rollbacks so far (POST /admin/checkpoints/{id}/promote makes one)."""

from __future__ import annotations

from fastapi import APIRouter, Query

from app.api.deps import Admin
from app.api.schemas.deployments import DeploymentOut
from core.services import checkpoints

router = APIRouter(prefix="/admin/deployments", tags=["checkpoints"])


@router.get("", response_model=list[DeploymentOut], tags=["admin"])
def deployment_history(_: Admin, limit: int = Query(100, ge=1, le=1000)) -> list[DeploymentOut]:
    """Promotions and rollbacks, newest first."""
    return [DeploymentOut.model_validate(d, from_attributes=True) for d in checkpoints.deployments(limit)]
