"""Admin: votes per pair selection strategy."""

from __future__ import annotations

from pydantic import BaseModel


class PairingVotesOut(BaseModel):
    """Human votes on the train pairs one pair selection strategy chose."""

    strategy: str  # random, diverse or uncertain (uncertain's pairs while the base serves are diverse's)
    current: bool  # the strategy DPOLOOP_PAIRING names now
    pairs: int
    votes: int
    decisive: int
    ties: int
    both_bad: int
    skips: int
    decisive_share: float | None  # decisive / (votes − skips)
