"""The sweeper re-queues client generations a lost worker left behind and fails hopeless ones."""

from datetime import UTC, datetime, timedelta

import redis

from core.db.models import Generation
from core.db.session import session_scope
from core.repo.generations import create_generation
from core.schemas.generation import GenerationParams
from core.states import GenerationStatus
from worker.tasks.sweep import sweep_stale_generations


def make(purpose: str, age: timedelta, status=GenerationStatus.running) -> int:
    with session_scope() as session:
        g = create_generation(session, GenerationParams(prompt="a red circle"), purpose=purpose)
        g.status, g.created_at = status, datetime.now(UTC) - age
        return g.id


def test_sweeper(pg_settings):
    fresh = make("api", timedelta(seconds=10))
    stale_api = make("api", timedelta(minutes=5))
    hopeless = make("api", timedelta(hours=1), GenerationStatus.queued)
    stale_pool = make("pool", timedelta(minutes=5))
    assert sweep_stale_generations() == {"requeued": 1, "failed": 2}
    with session_scope() as session:
        status = {i: session.get(Generation, i).status for i in (fresh, stale_api, hopeless, stale_pool)}
    assert status == {fresh: GenerationStatus.running, stale_api: GenerationStatus.queued,
                      hopeless: GenerationStatus.failed, stale_pool: GenerationStatus.failed}  # fmt: skip
    assert redis.Redis.from_url(pg_settings["broker_url"]).llen("generate") == 1
