"""The labeler calling."""

from __future__ import annotations

from pydantic import BaseModel


class MeOut(BaseModel):
    id: int
    name: str
    role: str
    votes: int
