"""The guidelines as an admin sends them (what labelers read back: core/services/guidelines.py)."""

from __future__ import annotations

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
