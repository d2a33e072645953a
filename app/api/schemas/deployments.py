"""Admin: promotions and rollbacks."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class DeploymentOut(BaseModel):
    id: int
    checkpoint_id: int
    campaign_id: int  # whom it serves
    promoted_at: datetime
    promoted_by: str
    reason: str | None
