"""Tasks: run a training round (queue `train`), and the scheduler's check for starting one.

The check runs on the `generate` queue on purpose: it must still run while the train worker is
busy, or dead (it is what notices a round whose worker was lost).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError

from app.db.models import RoundState
from app.db.session import session_scope
from app.repo.rounds import (
    RoundBusy,
    create_round,
    fail_stale_rounds,
    finish_round,
    last_scheduled_start,
    new_decisive_comparisons,
    running_round,
)
from app.round_queue import QueueUnavailable, queue_round, resolve_config
from app.settings import get_settings
from worker.celery_app import CHECK_ROUNDS, TRAIN_ROUND, celery_app

log = logging.getLogger(__name__)


@celery_app.task(name=TRAIN_ROUND)
def train_round(round_id: int) -> None:
    from worker.rounds.run import run_round

    run_round(round_id)


@celery_app.task(name=CHECK_ROUNDS)
def check_rounds() -> int | None:
    """Fail rounds whose worker vanished; start a scheduled round when enough new pairs wait."""
    settings = get_settings()
    with session_scope() as session:
        for round_id in fail_stale_rounds(session, settings.round_stale_s):
            log.warning("round %s lost its worker; marked failed", round_id)
    if not settings.round_schedule:
        return None
    with session_scope() as session:
        if running_round(session) is not None:
            return None
        last = last_scheduled_start(session)
        if last is not None and datetime.now(UTC) - last < timedelta(seconds=settings.round_min_interval_s):
            return None
        if new_decisive_comparisons(session) < settings.round_min_pairs:
            return None
        try:
            config = resolve_config(settings).model_dump()
        except ValidationError as exc:  # recorded as a failed round, so the admin sees why rounds do not train
            try:
                row = create_round(session, "schedule", {})
            except RoundBusy:
                return None
            finish_round(session, row, RoundState.failed, f"invalid DPOLOOP_DPO_OVERRIDES: {exc.errors()[0]['msg']}")
            return None
        try:
            return queue_round(session, "schedule", config).id
        except (RoundBusy, QueueUnavailable):
            return None
