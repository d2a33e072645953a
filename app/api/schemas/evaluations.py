"""Admin: the labelers' verdicts on promotions and arena matches."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from core.db.models import Evaluation
from core.repo.evaluations import EvaluationTally


class EvaluationOut(BaseModel):
    """Labelers' verdict on a promotion (the checkpoint against the one it replaced) or on an arena
    match (checkpoint A against B), same prompts and seeds on both sides."""

    id: int
    checkpoint_id: int
    baseline_id: int
    kind: str  # promotion | match
    pairs: int
    wins: int  # votes for the checkpoint's image
    losses: int
    ties: int
    both_bad: int
    skips: int
    win_rate: float | None  # (wins + ties / 2) / (wins + losses + ties)
    interval: tuple[float, float] | None  # Wilson's 95%
    # The automatic judge on the same pairs: {"judge", "wins", "losses", "ties", "win_rate"}; null
    # until it ruled (or where the model has no judge).
    judge: dict | None = None
    created_at: datetime

    @classmethod
    def of(cls, e: Evaluation, tally: EvaluationTally) -> EvaluationOut:
        """The evaluation with its counted votes (GET /admin/evaluations, and `human_eval` of a checkpoint)."""
        return cls(
            id=e.id, checkpoint_id=e.checkpoint_id, baseline_id=e.baseline_id, kind=e.kind, pairs=e.pairs,
            wins=tally.wins, losses=tally.losses, ties=tally.ties, both_bad=tally.both_bad, skips=tally.skips,
            win_rate=tally.rate, interval=tally.interval, judge=e.judge_verdict, created_at=e.created_at,
        )  # fmt: skip
