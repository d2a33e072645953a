"""Admin: how decisive the labelers' votes were per pair selection strategy (DPOLOOP_PAIRING)."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import Admin, AppSettings
from core.services.pairing_stats import PairingVotes, pairing_votes

router = APIRouter(prefix="/admin/pairing", tags=["admin"])


@router.get("", response_model=list[PairingVotes])
def votes_per_pairing(_: Admin, settings: AppSettings) -> list[PairingVotes]:
    """Per pair selection strategy, the human votes on the train pairs it chose, most votes first: how
    many named a winner (decisive_share: of those not passed) and how many were ties, both bad or
    passes; `current` marks the strategy DPOLOOP_PAIRING names now. AI labelers and gold pairs are
    left out. It counts every vote, so the console polls it less often than the overview."""
    return pairing_votes(settings)
