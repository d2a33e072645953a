"""Admin: the alerts operators were told, and their webhook deliveries."""

from __future__ import annotations

from fastapi import APIRouter, Query

from app.api.deps import Admin
from app.api.schemas.alerts import AlertEventOut
from core.services import alerts

router = APIRouter(prefix="/admin/alerts", tags=["admin"])


@router.get("", response_model=list[AlertEventOut])
def list_alerts(_: Admin, limit: int = Query(50, ge=1, le=1000)) -> list[AlertEventOut]:
    """What operators were told, newest first (rounds, verdicts, broken checkpoints, the pool empty,
    flagged labelers), with each webhook delivery's state: what was posted, what is retried and why."""
    return [AlertEventOut.model_validate(e) for e in alerts.recent(limit)]
