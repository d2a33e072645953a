"""Admin: a checkpoint's same-seed image grid beside the base and its parent."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, HTTPException, status

from app.api.deps import Admin, AppSettings, Id
from app.api.media import media_url
from app.api.schemas.grid import GridColumnOut, GridOut, GridRowOut
from core.queue import QueueUnavailable
from core.services import grid

router = APIRouter(prefix="/admin/checkpoints", tags=["checkpoints"])


def grid_out(found: grid.Grid, queued: bool) -> GridOut:
    return GridOut(
        columns=[GridColumnOut(**asdict(c)) for c in found.columns],
        rows=[GridRowOut(prompt=r.prompt, seed=r.seed, images=[media_url(i) if i else None for i in r.images])
              for r in found.rows],
        made=found.made, total=found.total, queued=queued,
    )  # fmt: skip


@router.get("/{checkpoint_id}/grid", response_model=GridOut, tags=["admin"])
def image_grid(checkpoint_id: Id, _: Admin, settings: AppSettings) -> GridOut:
    """The same-seed grid: each evaluation prompt × the grid's own fixed seeds, as rendered by the
    base, the parent and this checkpoint (null where one is missing)."""
    try:
        return grid_out(grid.grid(settings, checkpoint_id), queued=False)
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc


@router.post("/{checkpoint_id}/grid", response_model=GridOut, tags=["admin"], status_code=status.HTTP_202_ACCEPTED)
def render_image_grid(checkpoint_id: Id, _: Admin, settings: AppSettings) -> GridOut:
    """Queue the grid's missing images on the generate worker (a chunk at a time); poll GET for them."""
    try:
        found = grid.request_grid(settings, checkpoint_id)
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except QueueUnavailable as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the task queue is unreachable; try again") from exc
    return grid_out(found, queued=bool(found.missing_for()))
