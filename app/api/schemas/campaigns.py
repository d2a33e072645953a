"""Campaigns as an admin creates them and assigns labelers (what comes back: core/services/campaigns.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.schemas.text import storable_text
from core.services.campaigns import NAME_PATTERN as CAMPAIGN_NAME

__all__ = ["CAMPAIGN_NAME", "CampaignIn", "CampaignName", "CampaignPatch", "CampaignQuery", "MemberIn"]
CampaignName = Annotated[str, Field(pattern=CAMPAIGN_NAME, description="lowercase letters, digits and '-'",
                                    examples=["hands"])]  # fmt: skip


# `?campaign=NAME` on a call that acts within one campaign (without it: default).
CampaignQuery = Annotated[str, Query(pattern=CAMPAIGN_NAME, description="The campaign (default: `default`).")]


class CampaignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: CampaignName
    description: str = Field(default="", max_length=500)
    open_to_all: bool = Field(default=False, description="every labeler takes part without being assigned")

    @field_validator("description")
    @classmethod
    def _storable(cls, value: str) -> str:
        return storable_text(value)


class CampaignPatch(BaseModel):
    """What an admin may change after creating a campaign: fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    description: str | None = Field(default=None, max_length=500)
    open_to_all: bool | None = Field(default=None, description="every labeler takes part without being assigned")
    round_defaults: dict | None = Field(
        default=None, description="DPO settings its rounds start from, over the install's (a round's own config "
        'wins), e.g. {"beta": 1000}; {} clears them.', examples=[{"beta": 1000, "steps": 200}],
    )  # fmt: skip

    @field_validator("description")
    @classmethod
    def _storable(cls, value: str | None) -> str | None:
        return None if value is None else storable_text(value)


class MemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    share: float = Field(default=1.0, gt=0, le=1, description="how often this labeler's next pair comes from "
                         "this campaign, relative to their other campaigns' shares")  # fmt: skip
