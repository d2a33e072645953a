"""The parameters of one image generation, validated the same way by the API and the workers."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.schemas.text import CAMPAIGN_NAME_PATTERN, MAX_DB_INT, storable_text

MAX_PROMPT_CHARS = 1000
MAX_SEED = 2**63 - 1


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


class GenerationRequest(GenerationParams):
    checkpoint_id: int | None = Field(
        default=None, ge=1, le=MAX_DB_INT, description="Admins only: the checkpoint to use (default: the served one)."
    )
    campaign: str | None = Field(default=None, pattern=CAMPAIGN_NAME_PATTERN,
                                 description="The campaign whose serving checkpoint makes it (default: `default`'s).")

    @model_validator(mode="after")
    def one_choice_of_weights(self) -> GenerationRequest:
        if self.checkpoint_id is not None and self.campaign is not None:
            raise ValueError("give checkpoint_id or campaign, not both")
        return self
