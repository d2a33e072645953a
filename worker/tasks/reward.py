"""Tasks: train a version of a campaign's preference model (worker/reward/run.py) on the train worker;
beat's check whether enough new votes arrived for any campaign's next one."""

from __future__ import annotations

from core.queue import CHECK_REWARD, TRAIN_REWARD, celery_app
from core.services import reward
from core.settings import get_settings
from worker.reward.run import train_version


@celery_app.task(name=TRAIN_REWARD)
def train_reward(model_id: int) -> str | None:
    return train_version(model_id, get_settings())


@celery_app.task(name=CHECK_REWARD)
def check_reward() -> list[int]:
    return [row.id for row in reward.check_schedule(get_settings())]
