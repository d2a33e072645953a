"""Checkpoints as the API shows them (a candidacy: core/services/candidates.py), and promoting one."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.api.schemas.campaigns import CAMPAIGN_NAME
from app.api.schemas.evaluations import EvaluationOut
from core.services.candidates import Candidate


class PromoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(default=None, max_length=1000)
    campaign: str | None = Field(default=None, pattern=CAMPAIGN_NAME, description="the campaign it will serve "
                                 "(default: the one whose lineage it is; the base may serve any)")  # fmt: skip


class CheckpointOut(BaseModel):
    id: int
    name: str
    kind: str
    path: str | None  # the directory plain diffusers loads (None: the base model; admins only)
    parent_id: int | None
    campaign_id: int  # whose lineage (the base: default's, and every campaign's root)
    round_id: int | None
    status: str
    status_reason: str | None
    metrics: dict
    created_at: datetime
    active: bool  # serves the default campaign
    serves: list[str] = Field(default_factory=list, description="Admins only: the campaigns it serves now.")
    # Its newest evaluation against the checkpoint it replaced; admins only (live counts would tell a
    # labeler which side of an eval pair was the new checkpoint).
    human_eval: EvaluationOut | None = None
    candidate: Candidate | None = None  # null if it never was a candidate
