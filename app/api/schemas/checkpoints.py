"""Checkpoints, their candidacy, and promoting one."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.api.schemas.evaluations import EvaluationOut


class PromoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(default=None, max_length=1000)


class CandidateOut(BaseModel):
    """A checkpoint's candidacy: judged blind by the labelers against `serving_id` (what served when it
    became a candidate) until core/verdict.py decides. While it is judged, labelers get the state only
    (counts, estimate and bounds null: live counts would tell which side of an eval pair is winning)."""

    state: str  # judging | promoted | rejected | undecided
    wins: int | None  # counted votes (people in good standing) at the last review, frozen at the decision
    losses: int | None
    ties: int | None
    votes_needed_estimate: int | None  # a rough guide while judging; null once decided
    bounds: tuple[float, float] | None  # the win rate's anytime-valid confidence sequence: [low, high]
    serving_id: int
    reason: str | None  # why it was decided or ended undecided
    decided_by: str | None  # "labelers", an admin's name, or "system"
    created_at: datetime
    decided_at: datetime | None


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
    candidate: CandidateOut | None = None  # null if it never was a candidate
