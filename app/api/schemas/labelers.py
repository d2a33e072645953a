"""Admin: labelers and their tokens."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class LabelerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, pattern=r"^[\w.@+-]+$")
    admin: bool = False


class LabelerOut(BaseModel):
    id: int
    name: str
    role: str
    active: bool
    ai: bool = False  # an automatic judge voting through the API (`dpoloop ai-label`)
    standing: str = "auto"  # an admin's override of the quality rules: good | excluded | auto


class LabelerCreated(LabelerOut):
    token: str
    login_url: str


class LabelerPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    active: bool | None = None  # false: the token stops working (the votes stay)
    # good: the votes train whatever the quality rules say; excluded: they never do; auto: the rules decide
    standing: Literal["good", "excluded", "auto"] | None = None
