"""Admin: labelers, their tokens, how they label, whose votes train and where they went."""

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


class LabelerStatsOut(BaseModel):
    """How one labeler labels (GET /admin/labelers/stats)."""

    labeler_id: int
    name: str
    role: str
    active: bool
    ai: bool
    votes: int
    votes_last_hour: int
    median_decision_ms: float | None
    tie_share: float | None
    both_bad_share: float | None
    skip_share: float | None
    agreement: float | None  # with the other labelers' majority on the same pair (leave-one-out)
    agreement_votes: int


class LabelerQualityOut(BaseModel):
    """How far a labeler's votes can be trusted (GET /admin/labelers/quality)."""

    labeler_id: int
    name: str
    active: bool
    ai: bool
    votes: int
    decisive_votes: int
    gold_votes: int
    gold_correct: int
    gold_accuracy: float | None
    gold_interval: tuple[float, float] | None  # Wilson's 95%
    side_bias: float | None  # share of "left" among decisive votes (sides are shuffled: 0.5 is unbiased)
    agreement: float | None  # with the others' majority on the same pair
    agreement_votes: int
    alpha_without: float | None  # Krippendorff's alpha (nominal) of all the other labelers
    alpha_all: float | None  # ... and of everybody
    fast_share: float | None  # decisions faster than DPOLOOP_QUALITY_FAST_DECISION_MS
    tie_share: float | None
    skip_share: float | None
    override: str | None  # an admin's standing: good | excluded
    good_standing: bool  # the votes train
    reasons: list[str]  # why not


class LineageOut(BaseModel):
    """Where a labeler's votes went: retract them by rebuilding from `rebuild_from`."""

    labeler_id: int
    trained_on: dict[int, int]  # checkpoint id → this labeler's votes it trained on
    built_on: list[int]  # those checkpoints and their descendants
    serving_affected: bool
    rebuild_from: int  # the newest checkpoint on the serving one's line untouched by them
