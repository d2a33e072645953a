"""Image generation for client programs (the request: core/schemas/generation.py)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from core.states import GenerationStatus


class GenerationOut(BaseModel):
    id: int
    status: GenerationStatus
    prompt: str
    seed: int
    params: dict
    checkpoint_id: int | None
    image_url: str | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None
    duration_ms: float | None
