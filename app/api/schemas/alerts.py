"""Admin: the alerts operators were told."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel


class WebhookDeliveryOut(BaseModel):
    url: str
    state: Literal["pending", "delivered", "failed"]
    attempts: int
    last_error: str | None
    next_attempt_at: datetime
    delivered_at: datetime | None


class AlertEventOut(BaseModel):
    id: int
    kind: str  # round.finished, round.failed, candidate.promoted, candidate.rejected, checkpoint.broken, ...
    text: str
    payload: dict[str, Any]
    created_at: datetime
    deliveries: list[WebhookDeliveryOut]  # one per webhook URL configured when it happened
