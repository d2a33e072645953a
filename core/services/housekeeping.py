"""Failed housekeeping tasks, kept where the admin overview's last failures can show them (a
task's own log line is easy to miss, and a failure that repeats daily must not stay silent)."""

from __future__ import annotations

import logging

from core.db.models import HousekeepingFailure
from core.db.session import session_scope

log = logging.getLogger(__name__)
ERROR_CHARS = 2000


def record_failure(task: str, error: str) -> None:
    """Note that `task` failed and why; in its own transaction (the failed one rolled back)."""
    try:
        with session_scope() as session:
            session.add(HousekeepingFailure(task=task, error=error[:ERROR_CHARS]))
    except Exception:  # the database itself is what failed: the log is all that is left
        log.exception("could not record that housekeeping task %s failed: %s", task, error)
