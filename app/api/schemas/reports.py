"""Admin: labelers' reports of images."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.api.schemas.comparisons import ReportOut
from core.states import ReportStatus


class ReportAdminOut(ReportOut):
    comparison_id: int  # admins see the row id
    labeler: str
    prompt: str
    note: str | None
    image_urls: list[str]  # the reported image, or both
    status: ReportStatus  # open: only the reporter's vote is out of training; confirmed: every vote on the pair
    decided_by: str | None
    decided_at: datetime | None


class ReportDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["confirmed", "dismissed"] = Field(
        description="confirmed: no vote on the pair trains; dismissed: the other labelers' votes train again"
    )
