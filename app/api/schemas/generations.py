"""Image generation for client programs (the request: core/schemas/generation.py)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from core.states import GenerationStatus


class GenerationOut(BaseModel):
    id: int
    status: GenerationStatus
    prompt: str
    seed: int
    params: dict
    checkpoint_id: int | None  # the one checkpoint that made it (None for a blend)
    adapters: dict[str, float] | None = Field(
        default=None, description="The blend asked for (campaign name → weight), if any: the request's `adapters`, "
        "or the install's default blend."
    )
    blend: dict[str, float] | None = Field(
        default=None, description="The blend that made it: checkpoint id → weight (None when one checkpoint did)."
    )
    image_url: str | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None
    duration_ms: float | None
