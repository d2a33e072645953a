"""Admin: arena matches (the ranking itself is core/bradley_terry.py's, served as it is)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from core.schemas.text import MAX_DB_INT


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
