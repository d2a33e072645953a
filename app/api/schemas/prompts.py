"""Admin: the prompt pool."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class PromptsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompts: list[str] = Field(min_length=1, max_length=10_000)
    for_eval: bool = False


class PromptOut(BaseModel):
    id: int
    text: str
    source: str
    active: bool  # False: retired, out of the pool (its votes stay)
    for_eval: bool  # in the fixed evaluation set
    pairs: int  # comparisons made from it
    votes: int
    created_at: datetime


class PromptPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    active: bool | None = None
    for_eval: bool | None = None


class PromptsAdded(BaseModel):
    added: int
    skipped: int
