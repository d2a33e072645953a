"""Admin: each campaign's preference model."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class RewardModelOut(BaseModel):
    """One version of a campaign's preference model: what it trained on, how it did on held-out human
    votes, and the ceilings beside it (labelers_agree: people with each other on pairs several voted on;
    judge: the configured judge on the same held-out votes)."""

    id: int
    campaign_id: int = Field(description="Whose votes it learnt, and whose rounds, gate and pairing use it.")
    state: str
    features: str
    requested_by: str
    snapshot_vote_id: int | None
    votes: int | None = Field(description="Decisive votes of people in good standing behind its pairs.")
    train_pairs: int | None
    held_out_pairs: int | None
    held_out_accuracy: float | None
    ceilings: dict
    card: dict
    error: str | None
    created_at: datetime
    finished_at: datetime | None


class RewardOut(BaseModel):
    campaign: str = Field(description="Whose model: the campaign named by ?campaign= (default `default`).")
    current: RewardModelOut | None = Field(description="The newest ready version: the one the campaign's loop uses.")
    versions: list[RewardModelOut] = Field(description="Newest first, failed ones included.")
