"""Checkpoints as the API shows them (a candidacy: core/services/candidates.py), and promoting one."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.api.schemas.evaluations import EvaluationOut
from core.services.candidates import Candidate


class PromoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(default=None, max_length=1000)


class CheckpointOut(BaseModel):
    id: int
    name: str
    kind: str
    path: str | None  # the directory plain diffusers loads (None: the base model; admins only)
    parent_id: int | None
    round_id: int | None
    status: str
    status_reason: str | None
    metrics: dict
    created_at: datetime
    active: bool
    # Its newest evaluation against the checkpoint it replaced; admins only (live counts would tell a
    # labeler which side of an eval pair was the new checkpoint).
    human_eval: EvaluationOut | None = None
    candidate: Candidate | None = None  # null if it never was a candidate
