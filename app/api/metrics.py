"""GET /metrics for Prometheus (an admin's bearer token): the API processes' own instruments
(core/telemetry.py) and the loop's state from the database (core/services/loop_metrics.py), read at
scrape time so any API process answers the same; and the middleware that times every request."""

from __future__ import annotations

import time

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from app.api.deps import Admin, AppSettings
from core.services.loop_metrics import LoopState, loop_state
from core.telemetry import REQUEST_SECONDS, process_registry, status_class

router = APIRouter()

ROUND_BUCKETS = (60, 300, 900, 1800, 3600, 7200, 14400, 28800)


def _labelled(family, label: str, values: dict):
    for key, value in values.items():
        family.add_metric([key], value)
    return family


def _histogram(name: str, doc: str, values: list[float], buckets: tuple) -> HistogramMetricFamily:
    cumulative = [(str(float(b)), sum(v <= b for v in values)) for b in buckets] + [("+Inf", len(values))]
    return HistogramMetricFamily(name, doc, buckets=cumulative, sum_value=sum(values))


class LoopCollector:
    """Prometheus families of one LoopState (generate_latest only needs collect())."""

    def __init__(self, state: LoopState):
        self.state = state

    def collect(self):
        s = self.state
        yield _labelled(CounterMetricFamily("dpoloop_votes", "Votes cast, by choice (those taken back included).",
                                            labels=["choice"]), "choice", s.votes)  # fmt: skip
        yield CounterMetricFamily("dpoloop_votes_retracted", "Votes taken back by their labelers (undo).",
                                  value=s.votes_retracted)  # fmt: skip
        yield CounterMetricFamily("dpoloop_pairs_made", "Pairs ever added to the labeling pool (train, evaluation, "
                                  "gold).", value=s.pairs_made)  # fmt: skip
        yield GaugeMetricFamily("dpoloop_pool_ready", "Train pairs waiting for labelers.", value=s.pool_ready)
        yield GaugeMetricFamily("dpoloop_pool_target", "Train pairs the pool is kept at.", value=s.pool_target)
        reachable = {q: n for q, n in s.queue_depths.items() if n is not None}
        yield _labelled(GaugeMetricFamily("dpoloop_queue_depth", "Tasks waiting per queue.", labels=["queue"]),
                        "queue", reachable)  # fmt: skip
        yield GaugeMetricFamily("dpoloop_broker_up", "1 when the task broker answered.",
                                value=1 if len(reachable) == len(s.queue_depths) else 0)  # fmt: skip
        yield _labelled(GaugeMetricFamily("dpoloop_workers_alive", "Workers with a fresh heartbeat, per queue.",
                                          labels=["queue"]), "queue", s.workers_alive)  # fmt: skip
        yield _labelled(CounterMetricFamily("dpoloop_rounds", "Finished training rounds, by state.", labels=["state"]),
                        "state", s.rounds)  # fmt: skip
        yield GaugeMetricFamily("dpoloop_rounds_active", "Rounds queued or running.", value=s.rounds_active)
        yield _histogram("dpoloop_round_duration_seconds", "Finished rounds, start to end.", s.round_seconds,
                         ROUND_BUCKETS)  # fmt: skip
        yield GaugeMetricFamily("dpoloop_rounds_unsuccessful_streak",
                                "Newest finished rounds in a row that failed or whose checkpoint was turned down.",
                                value=s.unsuccessful_streak)  # fmt: skip
        yield _labelled(CounterMetricFamily("dpoloop_candidates", "Decided candidates, by verdict.",
                                            labels=["verdict"]), "verdict", s.candidates)  # fmt: skip
        yield GaugeMetricFamily("dpoloop_candidates_judging", "Candidates the labelers judge now.",
                                value=s.candidates_judging)  # fmt: skip
        yield _labelled(GaugeMetricFamily("dpoloop_checkpoints", "Checkpoints by status.", labels=["status"]),
                        "status", s.checkpoints)  # fmt: skip
        yield GaugeMetricFamily("dpoloop_labelers_flagged", "Labelers the vote-quality rules flag (no override).",
                                value=s.labelers_flagged)  # fmt: skip
        yield _labelled(GaugeMetricFamily("dpoloop_webhook_deliveries", "Webhook deliveries by state.",
                                          labels=["state"]), "state", s.webhook_deliveries)  # fmt: skip


@router.get("/metrics", include_in_schema=False)
def metrics(_: Admin, settings: AppSettings) -> Response:
    exposition = generate_latest(process_registry()) + generate_latest(LoopCollector(loop_state(settings)))
    return Response(exposition, media_type=CONTENT_TYPE_LATEST)


class RequestMetrics:
    """Times every request by its route template (/api/v1/checkpoints/{checkpoint_id}, not each id),
    so the series stay few; what matched no route (static files, 404s, the guard's refusals) is "other"."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started, status = time.perf_counter(), [500]

        async def sending(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            REQUEST_SECONDS.labels(method=scope["method"], route=route_template(scope),
                                   status=status_class(status[0])).observe(time.perf_counter() - started)  # fmt: skip


def route_template(scope) -> str:
    """The matched route's template under its router's prefix: the route knows only its own part
    (/comparisons/{comparison_id}), so the prefix is the request path's leading segments before it."""
    route = getattr(scope.get("route"), "path", None)
    if route is None:
        return "other"
    segments = scope["path"].split("/")
    depth = route.count("/")
    return "/".join(segments[: len(segments) - depth]) + route if len(segments) > depth else route
