"""Task: find generations a lost worker left behind, and finish them.

A worker killed mid-task (out of memory, kill -9) loses its task on the file broker, and on Redis
it comes back only after the visibility timeout; the service decides what to re-send or fail.
"""

from __future__ import annotations

from core.queue import SWEEP, celery_app
from core.services.generations import sweep_stale


@celery_app.task(name=SWEEP)
def sweep_stale_generations() -> dict:
    return sweep_stale()
