"""GET /health: database, broker and workers, for people and for load balancers."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Response, status

from core.queue import broker_reachable
from core.services.workers import workers_seen

router = APIRouter(tags=["health"])


@router.get("/health")
def health(response: Response) -> dict:
    report: dict = {"database": "ok", "broker": broker_reachable(), "workers": []}
    try:
        report["workers"] = [asdict(w) | {"alive": w.alive} for w in workers_seen()]
    except Exception as exc:  # the answer, not an error: say which part is down
        report["database"] = f"unreachable: {type(exc).__name__}"
    alive = any(w["alive"] for w in report["workers"])
    report["status"] = "ok" if report["database"] == "ok" and report["broker"] == "ok" and alive else "degraded"
    if report["database"] != "ok":
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return report
