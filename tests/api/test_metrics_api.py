"""GET /metrics: Prometheus' text format, parsed back; numbers that match the database; only for admins;
and every metric the alert rules and the dashboard name is one the API or a worker exports."""

import json
import re
from pathlib import Path

import yaml
from prometheus_client.parser import text_string_to_metric_families

from core.db.models import Checkpoint
from core.db.session import session_scope
from core.paths import REPO_ROOT
from core.states import CheckpointStatus
from tests.api.conftest import auth
from tests.helpers.data import make_comparisons

PROMQL_WORDS = {"sum", "by", "rate", "increase", "histogram_quantile", "max", "min", "avg", "count", "up", "on",
                "without", "and", "or", "unless", "offset", "delta", "changes", "absent", "le", "bool", "irate",
                "deriv", "ignoring", "min_over_time",
                "max_over_time", "group_left", "group_right", "clamp_min", "topk", "vector", "time"}  # fmt: skip


def scrape(client, headers) -> dict[str, dict]:
    answer = client.get("/metrics", headers=headers)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    families = {}
    for family in text_string_to_metric_families(answer.text):
        families[family.name] = {"type": family.type, "samples": [(s.name, s.labels, s.value) for s in family.samples]}
    return families


def value(families, name: str, sample: str | None = None, **labels) -> float:
    matches = [v for n, ls, v in families[name]["samples"] if n == (sample or name) and labels.items() <= ls.items()]
    assert len(matches) == 1, (name, labels, families[name])
    return matches[0]


def test_metrics_count_what_the_database_holds(client, admin, alice):
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=auth(alice)).status_code == 403
    make_comparisons(3)
    pair = client.get("/api/v1/comparisons/next", headers=auth(alice)).json()
    client.post(f"/api/v1/comparisons/{pair['id']}/vote", headers=auth(alice), json={"choice": "left"})
    with session_scope() as session:
        session.add(Checkpoint(name="bad", kind="lora", path="x", status=CheckpointStatus.broken, status_reason="t"))
    families = scrape(client, admin)
    assert value(families, "dpoloop_votes", "dpoloop_votes_total", choice="left") == 1
    assert value(families, "dpoloop_votes", "dpoloop_votes_total", choice="tie") == 0
    assert value(families, "dpoloop_pairs_made", "dpoloop_pairs_made_total") == 3
    assert value(families, "dpoloop_pool_ready") == 2  # one voted on
    assert value(families, "dpoloop_pool_target") == 24
    assert value(families, "dpoloop_checkpoints", status="broken") == 1
    assert value(families, "dpoloop_broker_up") == 1
    assert {ls["queue"] for _, ls, _ in families["dpoloop_queue_depth"]["samples"]} == {
        "generate", "pool", "housekeeping", "train"}  # fmt: skip
    assert value(families, "dpoloop_workers_alive", queue="train") == 0  # no worker in this test
    assert value(families, "dpoloop_rounds_unsuccessful_streak") == 0
    assert families["dpoloop_round_duration_seconds"]["type"] == "histogram"
    # The requests above were timed by route template, never by id.
    routes = {ls["route"] for n, ls, _ in families["dpoloop_http_request_duration_seconds"]["samples"]}
    assert "/api/v1/comparisons/{handle}/vote" in routes and "/metrics" in routes
    assert not any(re.search(r"/\d+", route) for route in routes)


def exported_names(families) -> set[str]:
    names = set()
    for name, family in families.items():
        names |= {sample for sample, _, _ in family["samples"]} | {name}
        if family["type"] in ("counter",):
            names.add(f"{name}_total")
        if family["type"] == "histogram":
            names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    return names


def metric_names(expr: str) -> set[str]:
    expr = re.sub(r'"[^"]*"', "", expr)  # label values
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # ranges
    words = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr))
    return {w for w in words - PROMQL_WORDS if w.startswith("dpoloop_")}


def test_the_alert_rules_and_the_dashboard_name_exported_metrics(client, admin):
    names = exported_names(scrape(client, admin))  # the workers' instruments are defined in the same registry
    rules = yaml.safe_load((REPO_ROOT / "deploy/prometheus/alerts.yml").read_text())
    exprs = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    assert len(exprs) >= 6
    for expr in exprs:
        assert metric_names(expr) <= names, (expr, metric_names(expr) - names)
    dashboard = json.loads(next(Path(REPO_ROOT / "deploy/grafana").rglob("*.json")).read_text())
    targets = [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", []) if "expr" in t]
    assert len(targets) >= 8
    for expr in targets:
        assert metric_names(expr) <= names, (expr, metric_names(expr) - names)


def test_the_alerts_admins_were_told_are_listed_with_their_deliveries(client, admin, alice, monkeypatch):
    from datetime import UTC, datetime

    from core.db.models import TrainingRound
    from core.services import alerts
    from core.settings import get_settings
    from core.states import RoundState
    from tests.conftest import apply_settings

    apply_settings(monkeypatch, webhook_urls="http://127.0.0.1:9/hook", webhook_secret="s")
    alerts.scan(get_settings())  # the install's first scan: history
    with session_scope() as session:
        session.add(TrainingRound(state=RoundState.failed, trigger="admin", error="disk full",
                                  finished_at=datetime.now(UTC)))  # fmt: skip
    alerts.scan(get_settings())
    assert client.get("/api/v1/admin/alerts", headers=auth(alice)).status_code == 403
    assert client.get("/api/v1/admin/alerts?limit=0", headers=admin).status_code == 422
    newest = client.get("/api/v1/admin/alerts", headers=admin).json()[0]
    assert newest["kind"] == "round.failed" and "disk full" in newest["text"]
    assert newest["deliveries"] == [{"url": "http://127.0.0.1:9/hook", "state": "pending", "attempts": 0,
                                     "last_error": None, "next_attempt_at": newest["deliveries"][0]["next_attempt_at"],
                                     "delivered_at": None}]  # fmt: skip
