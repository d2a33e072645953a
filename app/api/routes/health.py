"""GET /health: database, broker and workers, for people and for load balancers."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Response, status
from sqlalchemy import select, text

from app.db.models import WorkerHeartbeat
from app.db.session import new_session
from worker.celery_app import celery_app

router = APIRouter(tags=["health"])
ALIVE_S = 20.0  # a worker that has not beaten for this long counts as gone


def _broker_ok() -> str:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return "ok"
    except Exception as exc:  # any failure is the answer here, not an error
        return f"unreachable: {type(exc).__name__}"


@router.get("/health")
def health(response: Response) -> dict:
    report: dict = {"database": "ok", "broker": _broker_ok(), "workers": []}
    try:
        with new_session() as session:
            session.execute(text("SELECT 1"))
            now = datetime.now(UTC)
            for beat in session.scalars(select(WorkerHeartbeat)):
                seen = beat.last_seen if beat.last_seen.tzinfo else beat.last_seen.replace(tzinfo=UTC)
                age = (now - seen).total_seconds()
                report["workers"].append({"name": beat.name, "queues": beat.queues, "checkpoint_id": beat.checkpoint_id,
                                          "seconds_since_seen": round(age, 1), "alive": age < ALIVE_S})  # fmt: skip
    except Exception as exc:
        report["database"] = f"unreachable: {type(exc).__name__}"
    alive = any(w["alive"] for w in report["workers"])
    report["status"] = "ok" if report["database"] == "ok" and report["broker"] == "ok" and alive else "degraded"
    if report["database"] != "ok":
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return report
