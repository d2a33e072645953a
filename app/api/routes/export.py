"""Admin: the votes out, as parquet or CSV streamed while it is read (GET /admin/export)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from app.api.deps import Admin, AppSettings
from app.api.errors import unprocessable
from app.api.schemas.campaigns import CampaignQuery
from core.services import campaigns
from core.services import export as export_service
from core.services.export import ExportFilter

router = APIRouter(prefix="/admin/export", tags=["admin"])


@router.get("", response_class=StreamingResponse,
            responses={200: {"content": {"application/vnd.apache.parquet": {}, "text/csv": {}}},
                       404: {"description": "No campaign has this name."}})  # fmt: skip
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
    campaign: CampaignQuery = campaigns.DEFAULT,
) -> StreamingResponse:
    """The votes as one parquet file, written while it is sent: `pairs` in the layout the
    Diffusion-DPO reference trainer reads (caption, jpg_0, jpg_1, label_0, label_1, ...; image bytes
    included) or `votes`, flat. The same query on the same data gives the same rows in the same order."""
    if format == "csv" and form == "pairs":
        raise unprocessable("pairs hold image bytes: use format=parquet (csv is for form=votes)", "query", "format")
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)  # a time without a zone is UTC here
    flt = ExportFilter(since=since, kind=kind, include_ties=include_ties, exclude_disabled=exclude_disabled,
                       latents=latents, campaign=campaign)  # fmt: skip
    export_service.campaign_of(flt)
    media = "text/csv" if format == "csv" else "application/vnd.apache.parquet"
    name = f"dpoloop-{form}.{format}"
    return StreamingResponse(export_service.stream(settings, flt, form, format), media_type=media,
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip
