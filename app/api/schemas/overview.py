"""Admin: the loop at a glance."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from app.api.schemas.checkpoints import CandidateOut


class WorkerOut(BaseModel):
    name: str
    queues: str
    checkpoint_id: int | None
    seconds_since_seen: float
    alive: bool


class RunningRoundOut(BaseModel):
    id: int
    state: str
    trigger: str
    step: int
    steps: int | None
    metrics: dict


class FailureOut(BaseModel):
    id: int
    error: str | None
    finished_at: datetime | None


class BrokenCheckpointOut(BaseModel):
    id: int
    name: str
    reason: str | None


class VerdictRuleOut(BaseModel):
    alpha: float  # false promotion rate of a candidate that is no better (DPOLOOP_VERDICT_ALPHA)
    beta: float  # false rejection rate of one better by the margin or more (DPOLOOP_VERDICT_BETA)
    margin: float
    max_votes: int


class CandidateOverviewOut(CandidateOut):
    """The candidate being judged now, for the admin's overview."""

    checkpoint_id: int
    name: str
    rule: VerdictRuleOut


class OverviewOut(BaseModel):
    """The loop at a glance (the admin console's first page)."""

    active_checkpoint_id: int
    active_since: datetime | None
    pool_ready: int  # train pairs waiting that nobody holds
    pool_target: int
    eval_ready: int
    refill_pairs_per_min: float
    votes_last_hour: int
    votes_total: int
    decisive_since_last_round: int
    round_min_pairs: int
    schedule_on: bool
    next_scheduled_round_at: datetime | None
    running_round: RunningRoundOut | None
    workers: list[WorkerOut]
    queue_depths: dict[str, int | None]
    failed_rounds: list[FailureOut]
    failed_generations: list[FailureOut]
    broken_checkpoints: list[BrokenCheckpointOut]
    failed_housekeeping: list[FailureOut]  # error: "<task>: <why>" (retention, ...)
    candidate: CandidateOverviewOut | None = None  # the checkpoint judged now, if any
