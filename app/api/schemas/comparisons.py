"""The labeling loop: a comparison as labelers see it, a vote, its undo, a report."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.schemas.text import MAX_DB_INT, storable_text
from core.states import Choice, ReportReason

# Labelers name a pair by its serve handle (core/repo/handles.py), never by its row id: ids tell creation
# order, and so gold and evaluation pairs from train pairs. The field names are those clients used for ids.
Handle = Annotated[str, Field(description="The pair's handle: an opaque string, yours alone, in no order.")]


class ImageOut(BaseModel):
    url: str


class ComparisonOut(BaseModel):
    """What a labeler sees: nothing here tells which checkpoint or seed made which side, or what kind
    of pair it is."""

    id: Handle
    campaign: str = Field(description="The campaign it belongs to: its question and guidelines apply.")
    prompt: str
    left: ImageOut
    right: ImageOut


class VoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    choice: Choice
    decision_ms: int | None = Field(default=None, ge=0, le=3_600_000)
    guidelines_version: int | None = Field(default=None, ge=0, le=MAX_DB_INT, description="The guidelines version "
                                           "shown to the labeler (GET /guidelines); 0: none were set.")  # fmt: skip


class VoteOut(BaseModel):
    id: int
    comparison_id: Handle
    choice: Choice
    decision_ms: int | None
    created: bool  # False: this labeler had voted already; this is that first vote


class VoteRetractedOut(BaseModel):
    comparison_id: Handle
    vote_id: int  # the vote taken back
    reopened: bool  # the pair is held for you again: vote on it under the same handle


class ReportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    side: Literal["left", "right", "both"]  # as this labeler saw the pair
    reason: ReportReason
    note: str | None = Field(default=None, max_length=500)

    @field_validator("note")
    @classmethod
    def _storable(cls, value: str | None) -> str | None:
        return None if value is None else storable_text(value)


class ReportOut(BaseModel):
    id: int
    comparison_id: Handle
    side: str
    reason: str
    created_at: datetime
