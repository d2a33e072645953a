"""Admin: the prompt filter."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class PromptFilterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pattern: str = Field(min_length=1, max_length=500, description="A word or phrase (whole words, any case)")
    is_regex: bool = Field(default=False, description="Treat the pattern as an RE2 regular expression (any case; "
                           "no look-around or backreferences)")  # fmt: skip


class PromptFilterOut(BaseModel):
    id: int
    pattern: str
    is_regex: bool
    created_by: str
    created_at: datetime


class PromptFilterApplied(BaseModel):
    retired: list[dict]  # {"id", "text", "reason"} of each prompt taken out of the pool
