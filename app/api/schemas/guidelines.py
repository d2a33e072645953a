"""The guidelines labelers vote under."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.guidelines import MAX_BODY, MAX_QUESTION
from core.schemas.text import storable_text


class GuidelinesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=MAX_QUESTION, pattern=r"\S")
    body: str = Field(default="", max_length=MAX_BODY, description="Paragraphs, '- ' lists, **bold**, "
                      "[links](https://…); anything else is shown as text.")  # fmt: skip

    @field_validator("question", "body")
    @classmethod
    def _storable(cls, value: str) -> str:
        return storable_text(value)


class GuidelinesOut(BaseModel):
    version: int  # 0: none set yet
    question: str
    body: str  # as the admin wrote it
    blocks: list[dict]  # parsed (core/guidelines.py): what the labeling page shows
    set_by: str | None
    updated_at: datetime | None
