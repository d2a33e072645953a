"""Admin: imported preference sets."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from core.schemas.text import CAMPAIGN_NAME_PATTERN


class ImportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(
        min_length=1, max_length=1000, description="A path in the import root (DPOLOOP_IMPORT_ROOT; relative: in it)."
    )
    name: str | None = Field(default=None, min_length=1, max_length=100, pattern=r"^[\w.@+-]+$")
    campaign: str = Field(default="default", pattern=CAMPAIGN_NAME_PATTERN,
                          description="The campaign whose rounds may train on the set.")


class PreferenceSetOut(BaseModel):
    """An imported set: progress while the train worker reads it, then what it added and why rows
    were left out (counts: added, duplicates, ties, unlabeled, bad; bad_rows: the first 100)."""

    id: int
    name: str
    campaign_id: int = Field(description="The campaign whose rounds may train on it.")
    source: str
    format: str
    state: str
    rows_total: int | None
    rows_done: int
    attempts: int = Field(description="Worker starts since the last recorded batch (failed at 3).")
    counts: dict
    bad_rows: list
    error: str | None
    requested_by: str
    created_at: datetime
    finished_at: datetime | None
