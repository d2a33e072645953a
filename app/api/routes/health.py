"""GET /health: is this process answering, for load balancers and healthchecks (no token, no query,
no broker). GET /admin/health: database, broker and workers, for admins."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from app.api.deps import Admin
from app.api.schemas.health import HealthOut, LivenessOut
from core.queue import broker_reachable
from core.services.workers import workers_seen

router = APIRouter(tags=["health"])


@router.get("/health", response_model=LivenessOut)
def health() -> LivenessOut:
    """Liveness only: anyone may call it, as often as they like, and it touches nothing behind the API."""
    return LivenessOut(status="ok")


@router.get(
    "/admin/health",
    response_model=HealthOut,
    tags=["admin"],
    responses={503: {"model": HealthOut, "description": "The database is unreachable."}},
)
def admin_health(_: Admin, response: Response) -> HealthOut:
    """The database, the broker and every worker's last heartbeat (names and queues); degraded when
    either is down or no worker is alive."""
    database, broker, workers = "ok", broker_reachable(), []
    try:
        workers = workers_seen()
    except Exception as exc:  # the answer, not an error: say which part is down
        database = f"unreachable: {type(exc).__name__}"
    alive = any(w.alive for w in workers)
    if database != "ok":
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    ok = database == "ok" and broker == "ok" and alive
    return HealthOut(status="ok" if ok else "degraded", database=database, broker=broker, workers=workers)
