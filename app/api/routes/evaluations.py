"""Admin: the labelers' verdicts on promotions and arena matches."""

from __future__ import annotations

from fastapi import APIRouter, Query

from app.api.deps import Admin, AppSettings
from app.api.schemas.evaluations import EvaluationOut
from core.schemas.text import MAX_DB_INT
from core.services import evaluations

router = APIRouter(prefix="/admin/evaluations", tags=["checkpoints"])


@router.get("", response_model=list[EvaluationOut], tags=["admin"])
def list_evaluations(
    _: Admin, settings: AppSettings, checkpoint_id: int | None = Query(None, ge=1, le=MAX_DB_INT)
) -> list[EvaluationOut]:
    """Every human evaluation of a promotion, newest first: votes on same-seed pairs of the
    checkpoint and the one it replaced, with the checkpoint's win rate (a tie is half a win). Only
    votes of people in good standing count: not AI labelers', nor those of labelers out of it now."""
    return [EvaluationOut.of(e, tally) for e, tally in evaluations.evaluations(checkpoint_id, settings)]
