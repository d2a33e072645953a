"""Admin: a checkpoint's same-seed image grid beside the base and its parent."""

from __future__ import annotations

from dataclasses import replace

from fastapi import APIRouter, HTTPException, status

from app.api.deps import Admin, AppSettings, Id
from app.api.media import media_url
from core.queue import QueueUnavailable
from core.services import grid
from core.services.grid import Grid

router = APIRouter(prefix="/admin/checkpoints", tags=["checkpoints"])


def signed(found: Grid) -> Grid:
    """The grid with signed, expiring links to its images in place of their media paths."""
    rows = [replace(r, images=[media_url(i) if i else None for i in r.images]) for r in found.rows]
    return replace(found, rows=rows)


@router.get("/{checkpoint_id}/grid", response_model=Grid, tags=["admin"])
def image_grid(checkpoint_id: Id, _: Admin, settings: AppSettings) -> Grid:
    """The same-seed grid: each evaluation prompt × the grid's own fixed seeds, as rendered by the
    base, the parent and this checkpoint (null where one is missing)."""
    try:
        return signed(grid.grid(settings, checkpoint_id))
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc


@router.post("/{checkpoint_id}/grid", response_model=Grid, tags=["admin"], status_code=status.HTTP_202_ACCEPTED)
def render_image_grid(checkpoint_id: Id, _: Admin, settings: AppSettings) -> Grid:
    """Queue the grid's missing images on the generate worker (a chunk at a time); poll GET for them."""
    try:
        found = grid.request_grid(settings, checkpoint_id)
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except QueueUnavailable as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the task queue is unreachable; try again") from exc
    return signed(found)
