"""Admin: training rounds."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.api.schemas.campaigns import CAMPAIGN_NAME


class RoundIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    config: dict[str, Any] = Field(
        default_factory=dict, description="DPO settings for this round over the defaults (see DPOConfig)."
    )
    campaign: str = Field(default="default", pattern=CAMPAIGN_NAME,
                          description="whose votes it trains on, from what serves that campaign")  # fmt: skip


class RoundStepOut(BaseModel):
    step: int
    metrics: dict


class RoundOut(BaseModel):
    id: int
    campaign_id: int
    state: str
    trigger: str
    requested_by: str | None
    config: dict
    counts: dict
    metrics: dict
    error: str | None
    snapshot_vote_id: int | None
    start_checkpoint_id: int | None
    reference_checkpoint_id: int | None
    checkpoint_id: int | None
    cancel_requested: bool
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    steps: list[RoundStepOut] | None = None
