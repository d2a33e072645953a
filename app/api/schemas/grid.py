"""Admin: a checkpoint's same-seed image grid."""

from __future__ import annotations

from pydantic import BaseModel


class GridColumnOut(BaseModel):
    checkpoint_id: int
    name: str
    role: str  # base | parent | checkpoint
    problem: str | None  # why this column cannot be rendered


class GridRowOut(BaseModel):
    prompt: str
    seed: int
    images: list[str | None]  # per column: a signed image link, null while not rendered yet


class GridOut(BaseModel):
    """The fixed evaluation prompts × seeds rendered by the base, the parent and the checkpoint."""

    columns: list[GridColumnOut]
    rows: list[GridRowOut]
    made: int
    total: int
    queued: bool  # missing images were just queued for rendering
