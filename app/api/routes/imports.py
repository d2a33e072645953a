"""Admin: preference data in — imported sets the train worker reads, and their progress."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, HTTPException, status
from fastapi import Path as PathParam

from app.api.deps import Admin
from app.api.errors import unprocessable
from app.api.schemas.imports import ImportIn, PreferenceSetOut
from core.queue import QueueUnavailable
from core.services import campaigns, imports

router = APIRouter(prefix="/admin/imports", tags=["admin"])


def set_out(row) -> PreferenceSetOut:
    out = PreferenceSetOut.model_validate(row, from_attributes=True)
    out.state = row.state.value
    return out


@router.post("", response_model=PreferenceSetOut, status_code=status.HTTP_202_ACCEPTED)
def start_import(body: ImportIn, admin: Admin) -> PreferenceSetOut:
    """Import preference pairs from a path in the server's import root (DPOLOOP_IMPORT_ROOT; a relative
    path is inside it, one outside is refused alike whether or not it exists): Pick-a-Pic-layout parquet
    (a file or a folder), a `datasets` save_to_disk folder, or a folder of NAME_0.png/NAME_1.png with a .jsonl.
    The train worker encodes them; follow with GET /admin/imports/{name}. A round of the set's
    `campaign` trains on them with `"sources": ["votes", "import:NAME"]` in its config."""
    try:
        row = imports.start_import(Path(body.path), body.name, by=admin.name, campaign=body.campaign)
    except (campaigns.UnknownCampaign, campaigns.CampaignRefused) as exc:
        raise unprocessable(str(exc), "body", "campaign") from exc
    except imports.ImportRefused as exc:
        raise unprocessable(str(exc), "body", "path") from exc
    except QueueUnavailable as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the task queue is unreachable; try again") from exc
    return set_out(row)


@router.get("", response_model=list[PreferenceSetOut])
def list_imports(_: Admin) -> list[PreferenceSetOut]:
    return [set_out(row) for row in imports.list_sets()]


@router.get("/{name}", response_model=PreferenceSetOut)
def get_import(name: Annotated[str, PathParam(max_length=100)], _: Admin) -> PreferenceSetOut:
    try:
        return set_out(imports.get_set(name))
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
