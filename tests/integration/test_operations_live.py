"""The operator's side on the real processes: two API processes sum their request timings at /metrics
(Prometheus' multi-process mode) and count one rate limit together; a worker serves its own metrics on
its port; beat's alert task posts a failed round to a webhook receiver, signed."""

import hashlib
import hmac
import json
from datetime import UTC, datetime

import httpx
from prometheus_client.parser import text_string_to_metric_families

from core.db.models import TrainingRound
from core.db.session import session_scope
from core.repo.comparisons import ready_pool_count
from core.states import RoundState
from tests.helpers.data import make_labeler
from tests.helpers.receiver import Receiver
from tests.helpers.stack import Service, dpoloop, free_port, stack_env, wait_until

SECRET = "live-secret"


def samples(text: str) -> list[tuple[str, dict, float]]:
    return [(s.name, s.labels, s.value) for f in text_string_to_metric_families(text) for s in f.samples]


def total(rows, name: str, **labels) -> float:
    return sum(v for n, ls, v in rows if n == name and labels.items() <= ls.items())


def test_metrics_from_two_api_processes_and_a_worker_and_a_webhook_from_beat(pg_settings, embedded_model, tmp_path):
    receiver = Receiver([200])
    worker_port = free_port()
    port, env = stack_env(pg_settings, embedded_model, pool_target=4, pool_batch=2, pool_interval_s=1,
                          default_steps=8, alert_interval_s=1, webhook_urls=receiver.url, webhook_secret=SECRET,
                          worker_metrics_port=worker_port, generation_rate_limit="5/minute")  # fmt: skip
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    logs = tmp_path / "logs"
    logs.mkdir()
    services = [Service("api", dpoloop("api", "--workers", "2"), env, logs),
                Service("worker", dpoloop("worker", "--name", "ops-worker@%h"), env, logs),
                Service("beat", dpoloop("beat"), env, logs)]  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    admin = {"Authorization": f"Bearer {make_labeler('ops-admin', admin=True)[1]}"}
    try:
        wait_until(lambda: httpx.get(f"{base}/api/v1/health").status_code == 200, 60, "the API", proc=services[0])
        for _ in range(30):  # spread over both processes by the kernel
            assert httpx.get(f"{base}/api/v1/health").status_code == 200
        for _ in range(3):  # whichever process answers, the count is the sum of both
            rows = samples(httpx.get(f"{base}/metrics", headers=admin).text)
            assert total(rows, "dpoloop_http_request_duration_seconds_count", route="/api/v1/health") >= 31

        def pool_has_pairs():
            with session_scope() as session:
                return ready_pool_count(session, 1) >= 2

        client = {"Authorization": f"Bearer {make_labeler('ops-client')[1]}"}
        answers = [httpx.post(f"{base}/api/v1/generations", headers=client, json={"prompt": "a red circle"}).status_code
                   for _ in range(8)]  # fmt: skip
        assert sorted(answers) == [202] * 5 + [429] * 3  # one limit, counted in Redis by both processes

        wait_until(pool_has_pairs, 240, "pairs in the pool", every=1, proc=services[1])

        def worker_counted():  # a fill's postrun signal lands just after its commit
            rows = samples(httpx.get(f"http://127.0.0.1:{worker_port}/metrics").text)
            return (total(rows, "dpoloop_generation_seconds_count", purpose="pool") >= 4
                    and total(rows, "dpoloop_task_duration_seconds_count", task="dpoloop.pool.fill") >= 1)  # fmt: skip

        wait_until(worker_counted, 30, "the worker's metrics", proc=services[1])

        def loop_seen():  # each process reads the tables again at most every 10 s (loop_metrics.FRESH_S): a read
            # from before the second pair was made can still answer, so wait for both figures, not the first
            rows = samples(httpx.get(f"{base}/metrics", headers=admin).text)
            alive = total(rows, "dpoloop_workers_alive", queue="generate") == 1
            return rows if alive and total(rows, "dpoloop_pairs_made_total") >= 2 else None

        rows = wait_until(loop_seen, 30, "the worker alive at /metrics", proc=services[1])
        assert total(rows, "dpoloop_workers_alive", queue="generate") == 1
        assert total(rows, "dpoloop_pairs_made_total") >= 2

        def scanned() -> bool:  # the first scan records what it finds as history, unposted
            return any("dpoloop.alerts.check" in line and "succeeded" in line
                       for line in services[1].log_path.read_text().splitlines())  # fmt: skip

        wait_until(scanned, 60, "a first alert scan", proc=services[1])
        with session_scope() as session:
            session.add(TrainingRound(state=RoundState.failed, trigger="admin", error="the GPU fell over",
                                      finished_at=datetime.now(UTC)))  # fmt: skip
        wait_until(lambda: any(b"round.failed" in body for _, body in receiver.received), 60, "the webhook",
                   proc=services[1])  # fmt: skip
        headers, body = next((h, b) for h, b in receiver.received if b"round.failed" in b)
        assert headers["X-Dpoloop-Signature"] == "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert "the GPU fell over" in json.loads(body)["text"]
    finally:
        for service in services:
            service.stop()
        receiver.close()
