"""Admin: the loop at a glance."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from app.api.deps import Admin, AppSettings
from core.schemas.api import OverviewOut, PairingVotesOut, WorkerOut
from core.services.overview import overview
from core.services.pairing_stats import pairing_votes

router = APIRouter(prefix="/admin", tags=["admin"])


@router.get("/overview", response_model=OverviewOut)
def loop_overview(_: Admin, settings: AppSettings) -> OverviewOut:
    """What serves and since when, the pool against its target and its refill rate, votes, decisive
    pairs toward the next scheduled round and when it may start, the round running now, workers and
    queue depths, the last failures, and the candidate the labelers judge now (null when none is: its
    tallies, bounds and votes needed, what it is judged against, and the verdict's rule)."""
    found = overview(settings)
    workers = [WorkerOut(**asdict(w), alive=w.alive) for w in found.workers]
    return OverviewOut(**(asdict(found) | {"workers": workers}))


@router.get("/pairing", response_model=list[PairingVotesOut])
def votes_per_pairing(_: Admin, settings: AppSettings) -> list[PairingVotesOut]:
    """Per pair selection strategy, the human votes on the train pairs it chose, most votes first: how
    many named a winner (decisive_share: of those not passed) and how many were ties, both bad or
    passes; `current` marks the strategy DPOLOOP_PAIRING names now. AI labelers and gold pairs are
    left out. It counts every vote, so the console polls it less often than the overview."""
    return [PairingVotesOut(**asdict(p), decisive_share=p.decisive_share, current=p.strategy == settings.pairing)
            for p in pairing_votes()]  # fmt: skip
