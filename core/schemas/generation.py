"""The parameters of one image generation, validated the same way by the API and the workers."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from core.schemas.text import CAMPAIGN_NAME_PATTERN, MAX_DB_INT, storable_text

MAX_PROMPT_CHARS = 1000
MAX_SEED = 2**63 - 1
MAX_BLEND_WEIGHT = 2.0  # beyond about this an adapter's update overshoots into noise
MAX_BLEND_PARTS = 8  # the most adapters one blend names (a worker holds DPOLOOP_ADAPTERS_HELD at once)


class GenerationParams(BaseModel):
    """What a caller may ask of a generation. Limits are generous for real SD/SDXL models; the
    worker refuses sizes its loaded model cannot make (not a multiple of its VAE factor)."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS)
    negative_prompt: str = Field(default="", max_length=MAX_PROMPT_CHARS)
    seed: int | None = Field(default=None, ge=0, le=MAX_SEED)
    num_inference_steps: int = Field(default=20, ge=1, le=200)
    guidance_scale: float = Field(default=4.0, ge=0.0, le=30.0)
    width: int | None = Field(default=None, ge=32, le=2048, multiple_of=8)
    height: int | None = Field(default=None, ge=32, le=2048, multiple_of=8)

    @field_validator("prompt")
    @classmethod
    def prompt_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("prompt must not be blank")
        return storable_text(value)

    @field_validator("negative_prompt")
    @classmethod
    def negative_prompt_storable(cls, value: str) -> str:
        return storable_text(value)


CampaignName = Annotated[str, StringConstraints(pattern=CAMPAIGN_NAME_PATTERN)]
BlendWeight = Annotated[float, Field(ge=0.0, le=MAX_BLEND_WEIGHT)]


def check_blend(adapters: dict[str, float]) -> dict[str, float]:
    """A blend names 1 to MAX_BLEND_PARTS campaigns, at weights from 0 to MAX_BLEND_WEIGHT, one above 0."""
    if not adapters or len(adapters) > MAX_BLEND_PARTS:
        raise ValueError(f"a blend names 1 to {MAX_BLEND_PARTS} campaigns")
    for name, weight in adapters.items():
        if not 0 <= weight <= MAX_BLEND_WEIGHT:  # NaN too
            raise ValueError(f"{name}'s weight {weight} is outside 0 to {MAX_BLEND_WEIGHT:g}")
    if not any(weight > 0 for weight in adapters.values()):
        raise ValueError("a blend needs one weight above 0")
    return adapters


Adapters = Annotated[dict[CampaignName, BlendWeight], AfterValidator(check_blend)]  # campaign name → weight


class BlendIn(BaseModel):
    """A blend of campaigns' serving adapters: campaign name → weight."""

    model_config = ConfigDict(extra="forbid")

    adapters: Adapters = Field(
        description=f"Campaign name → weight (0 to {MAX_BLEND_WEIGHT:g}, at most {MAX_BLEND_PARTS} campaigns, "
        f"one weight above 0)."
    )


class GenerationRequest(GenerationParams):
    checkpoint_id: int | None = Field(
        default=None, ge=1, le=MAX_DB_INT, description="Admins only: the checkpoint to use (default: the served one)."
    )
    campaign: str | None = Field(default=None, pattern=CAMPAIGN_NAME_PATTERN,
                                 description="The campaign whose serving checkpoint makes it (default: `default`'s).")
    adapters: Adapters | None = Field(
        default=None,
        description=f"A blend of campaigns' serving adapters, campaign name → weight (0 to {MAX_BLEND_WEIGHT:g}, "
        f"at most {MAX_BLEND_PARTS}), e.g. {{\"default\": 0.5, \"hands\": 0.5}}. Default: the install's default blend.",
    )

    @model_validator(mode="after")
    def one_choice_of_weights(self) -> GenerationRequest:
        if sum(x is not None for x in (self.checkpoint_id, self.campaign, self.adapters)) > 1:
            raise ValueError("give one of checkpoint_id, campaign and adapters")
        return self
