"""Starting a round: resolve its settings, take the one-round slot, queue the task on `train`.

The API, the CLI and the scheduler all start rounds this way.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.db.models import RoundState, TrainingRound
from app.repo.rounds import create_round, finish_round
from app.schemas.rounds import DPOConfig, model_family, round_config
from app.settings import Settings
from worker.celery_app import TRAIN_ROUND, celery_app


class QueueUnavailable(RuntimeError):
    """The broker refused the task; the round is recorded as failed and the slot is free again."""


def resolve_config(settings: Settings, overrides: dict | None = None) -> DPOConfig:
    """The model family's defaults, then DPOLOOP_DPO_OVERRIDES, then overrides; ValidationError if invalid."""
    return round_config(model_family(settings.base_model), settings.dpo_overrides, overrides or {})


def queue_round(session: Session, trigger: str, config: dict, requested_by: str | None = None) -> TrainingRound:
    """Insert the round (RoundBusy if one is active) and send its task (QueueUnavailable if the broker is down)."""
    row = create_round(session, trigger, config, requested_by=requested_by)
    try:
        celery_app.send_task(TRAIN_ROUND, args=[row.id])
    except Exception as exc:  # the round must not hold the slot forever
        finish_round(session, row, RoundState.failed, f"could not queue the task: {type(exc).__name__}: {exc}")
        session.commit()
        raise QueueUnavailable(f"the task queue is unreachable: {exc}") from exc
    return row
