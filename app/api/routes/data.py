"""Admin: preference data out (GET /admin/export, streamed as it is read) and in (imports)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, status
from fastapi import Path as PathParam
from fastapi.responses import StreamingResponse

from app.api.deps import Admin, AppSettings
from app.api.errors import unprocessable
from core.queue import QueueUnavailable
from core.schemas.api import ImportIn, PreferenceSetOut
from core.services import export as export_service
from core.services import imports
from core.services.export import ExportFilter

router = APIRouter(prefix="/admin", tags=["admin"])


@router.get("/export", response_class=StreamingResponse,
            responses={200: {"content": {"application/vnd.apache.parquet": {}, "text/csv": {}}}})  # fmt: skip
def export(
    _: Admin,
    settings: AppSettings,
    form: Literal["pairs", "votes"] = Query("pairs", description="pairs: Pick-a-Pic v2 rows; votes: one per vote"),
    format: Literal["parquet", "csv"] = Query("parquet", description="csv only for form=votes"),
    since: Annotated[datetime | None, Query(description="Only comparisons voted on since (UTC if no zone).")] = None,
    kind: Literal["train", "eval", "all"] = "train",
    include_ties: bool = False,
    exclude_disabled: bool = False,
    latents: bool = False,
) -> StreamingResponse:
    """The votes as one parquet file, written while it is sent: `pairs` in the layout the
    Diffusion-DPO reference trainer reads (caption, jpg_0, jpg_1, label_0, label_1, ...; image bytes
    included) or `votes`, flat. The same query on the same data gives the same rows in the same order."""
    if format == "csv" and form == "pairs":
        raise unprocessable("pairs hold image bytes: use format=parquet (csv is for form=votes)", "query", "format")
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)  # a time without a zone is UTC here
    flt = ExportFilter(since=since, kind=kind, include_ties=include_ties, exclude_disabled=exclude_disabled,
                       latents=latents)  # fmt: skip
    media = "text/csv" if format == "csv" else "application/vnd.apache.parquet"
    name = f"dpoloop-{form}.{format}"
    return StreamingResponse(export_service.stream(settings, flt, form, format), media_type=media,
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip


def set_out(row) -> PreferenceSetOut:
    out = PreferenceSetOut.model_validate(row, from_attributes=True)
    out.state = row.state.value
    return out


@router.post("/imports", response_model=PreferenceSetOut, status_code=status.HTTP_202_ACCEPTED)
def start_import(body: ImportIn, admin: Admin) -> PreferenceSetOut:
    """Import preference pairs from a path in the server's import root (DPOLOOP_IMPORT_ROOT; a relative
    path is inside it, one outside is refused alike whether or not it exists): Pick-a-Pic-layout parquet
    (a file or a folder), a `datasets` save_to_disk folder, or a folder of NAME_0.png/NAME_1.png with a .jsonl.
    The train worker encodes them; follow with GET /admin/imports/{name}. A round trains on them
    with `"sources": ["votes", "import:NAME"]` in its config."""
    try:
        row = imports.start_import(Path(body.path), body.name, by=admin.name)
    except imports.ImportRefused as exc:
        raise unprocessable(str(exc), "body", "path") from exc
    except QueueUnavailable as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the task queue is unreachable; try again") from exc
    return set_out(row)


@router.get("/imports", response_model=list[PreferenceSetOut])
def list_imports(_: Admin) -> list[PreferenceSetOut]:
    return [set_out(row) for row in imports.list_sets()]


@router.get("/imports/{name}", response_model=PreferenceSetOut)
def get_import(name: Annotated[str, PathParam(max_length=100)], _: Admin) -> PreferenceSetOut:
    try:
        return set_out(imports.get_set(name))
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
