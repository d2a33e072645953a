"""The worker process's Celery app: core's app (queues, routes, names) with every task body on it.

`celery -A worker.app:celery_app worker` runs it; beat needs no task bodies (`core.queue`).
"""

from core.queue import celery_app
from worker import metrics  # noqa: F401  (serves the worker's metrics, times its tasks)
from worker.tasks import alerts, candidates, generate, grid, heartbeat, imports, pool, retention, reward, rounds, sweep  # noqa: F401  (each registers its tasks)

__all__ = ["celery_app"]
