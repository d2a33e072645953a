"""Task: find generations a lost worker left behind, and finish them.

A worker killed mid-task (out of memory, kill -9) loses its task on the file broker, and on Redis
it comes back only after the visibility timeout. The sweeper re-queues client requests that have
waited too long (the generate task is idempotent) and fails them once they are hopeless; pool
images, which nobody waits for, are simply failed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.db.models import Generation, GenerationStatus
from app.db.session import session_scope
from app.repo.generations import mark_failed
from worker.celery_app import GENERATE_IMAGE, SWEEP, celery_app

REQUEUE_AFTER = timedelta(minutes=3)
GIVE_UP_AFTER = timedelta(minutes=30)


@celery_app.task(name=SWEEP)
def sweep_stale_generations() -> dict:
    now = datetime.now(UTC)
    requeued = failed = 0
    with session_scope() as session:
        stale = session.scalars(
            select(Generation).where(
                Generation.status.in_((GenerationStatus.queued, GenerationStatus.running)),
                Generation.created_at < now - REQUEUE_AFTER,
            )
        ).all()
        for generation in stale:
            created = (
                generation.created_at if generation.created_at.tzinfo else generation.created_at.replace(tzinfo=UTC)
            )
            if generation.purpose != "api" or created < now - GIVE_UP_AFTER:
                mark_failed(generation, "abandoned: the worker making it was lost")
                failed += 1
            else:
                generation.status = GenerationStatus.queued
                celery_app.send_task(GENERATE_IMAGE, args=[generation.id])
                requeued += 1
    return {"requeued": requeued, "failed": failed}
