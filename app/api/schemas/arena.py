"""Admin: the arena and its matches."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from core.schemas.text import MAX_DB_INT


class ArenaStandingOut(BaseModel):
    """One checkpoint on the arena's Bradley-Terry scale (log-odds; the base is 0)."""

    checkpoint_id: int
    name: str
    strength: float
    interval: tuple[float, float]  # bootstrap 95%
    votes: int
    wins: int
    losses: int
    ties: int


class ArenaOut(BaseModel):
    standings: list[ArenaStandingOut]  # strongest first
    votes: int
    bootstrap: int  # resamples behind the intervals


class MatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    checkpoint_a_id: int = Field(ge=1, le=MAX_DB_INT)
    checkpoint_b_id: int = Field(ge=1, le=MAX_DB_INT)


class MatchOut(BaseModel):
    """An arena match: `rendering` until both checkpoints have made the evaluation set, then `ready`
    with the evaluation whose pairs labelers see (or `failed` with the reason)."""

    id: int
    checkpoint_a_id: int
    checkpoint_b_id: int
    state: str
    requested_by: str
    evaluation_id: int | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None
