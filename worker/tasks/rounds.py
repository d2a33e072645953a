"""Tasks: run a training round (queue `train`), and the scheduler's check for starting one.

The check runs on the `generate` queue on purpose: it must still run while the train worker is
busy, or dead (it is what notices a round whose worker was lost).
"""

from __future__ import annotations

import logging

from core.queue import CHECK_ROUNDS, TRAIN_ROUND, celery_app
from core.services import rounds
from core.settings import get_settings

log = logging.getLogger(__name__)


@celery_app.task(name=TRAIN_ROUND)
def train_round(round_id: int) -> None:
    from worker.rounds.run import run_round  # torch: only the train worker pays for it, when a round comes

    run_round(round_id)


@celery_app.task(name=CHECK_ROUNDS)
def check_rounds() -> int | None:
    """Fail rounds whose worker vanished; start a scheduled round when enough new pairs wait."""
    settings = get_settings()
    for round_id in rounds.fail_stale_rounds(settings):
        log.warning("round %s lost its worker; marked failed", round_id)
    return rounds.start_scheduled_round(settings)
