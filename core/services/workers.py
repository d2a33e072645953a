"""Worker liveness through the database (file and SQLite brokers have no broadcast to ping)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import computed_field
from sqlalchemy import delete, select, text

from core.db.models import WorkerHeartbeat
from core.db.session import session_scope

ALIVE_S = 20.0  # a worker that has not beaten for this long counts as gone


def beat(name: str, queues: str, checkpoint_id: int | None) -> None:
    with session_scope() as session:
        row = session.get(WorkerHeartbeat, name)
        if row is None:
            row = WorkerHeartbeat(name=name, queues=queues)
            session.add(row)
        row.queues, row.checkpoint_id, row.last_seen = queues, checkpoint_id, datetime.now(UTC)


def forget(name: str) -> None:
    """A worker that shuts down cleanly leaves no stale row."""
    with session_scope() as session:
        session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.name == name))


@dataclass(frozen=True)
class WorkerSeen:
    name: str
    queues: str
    checkpoint_id: int | None
    seconds_since_seen: float

    @computed_field  # served with the heartbeat (GET /admin/health, /admin/overview)
    @property
    def alive(self) -> bool:
        return self.seconds_since_seen < ALIVE_S


def workers_seen() -> list[WorkerSeen]:
    """Every worker's last heartbeat; raises if the database cannot be reached."""
    now = datetime.now(UTC)
    with session_scope() as session:
        session.execute(text("SELECT 1"))
        seen = []
        for row in session.scalars(select(WorkerHeartbeat)):
            age = round((now - row.last_seen).total_seconds(), 1)
            seen.append(WorkerSeen(row.name, row.queues, row.checkpoint_id, age))
        return seen
