"""Admin: the loop at a glance."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import Admin, AppSettings
from core.services.overview import Overview, overview

router = APIRouter(prefix="/admin/overview", tags=["admin"])


@router.get("", response_model=Overview)
def loop_overview(_: Admin, settings: AppSettings) -> Overview:
    """What serves and since when, the pool against its target and its refill rate, votes, decisive
    pairs toward the next scheduled round and when it may start, the round running now, workers and
    queue depths, the last failures, and the default campaign's candidate its labelers judge now (null
    when none is: its tallies, bounds and votes needed, what it is judged against, and the verdict's rule);
    `candidates`: every campaign's judged now, each naming its campaign, default's first."""
    return overview(settings)
