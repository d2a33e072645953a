"""The operator's monitoring files (deploy/prometheus, deploy/grafana, compose's `monitoring` profile):
Prometheus accepts them, the alerts fire when they should (promtool's rule unit tests), and the dashboard
and the alerts query only metrics dpoloop exposes.

promtool comes with Debian's `prometheus` package (scripts/services.sh installs it). Without it the
promtool tests skip; under `bash scripts/test.sh` (DPOLOOP_REQUIRE_SERVICES=1) they fail.
"""

import json
import os
import re
import shutil
import subprocess

import pytest
import yaml

from tests.conftest import REPO_ROOT

PROMETHEUS = REPO_ROOT / "deploy" / "prometheus"
GRAFANA = REPO_ROOT / "deploy" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "dpoloop.json"

# What the API (job dpoloop-api) and the workers (job dpoloop-workers) expose; histograms by base name.
COUNTERS_AND_GAUGES = {
    "dpoloop_votes_total", "dpoloop_pairs_made_total", "dpoloop_pool_ready", "dpoloop_pool_target",
    "dpoloop_queue_depth", "dpoloop_broker_up", "dpoloop_workers_alive", "dpoloop_rounds_total",
    "dpoloop_rounds_active", "dpoloop_rounds_unsuccessful_streak", "dpoloop_candidates_total",
    "dpoloop_candidates_judging", "dpoloop_checkpoints",
    "dpoloop_labelers_flagged", "dpoloop_webhook_deliveries",
    "dpoloop_gpu_memory_allocated_bytes", "dpoloop_gpu_memory_reserved_bytes",
}  # fmt: skip
HISTOGRAMS = {
    "dpoloop_round_duration_seconds", "dpoloop_http_request_duration_seconds",
    "dpoloop_generation_seconds", "dpoloop_task_duration_seconds",
}  # fmt: skip
KNOWN = COUNTERS_AND_GAUGES | {h + suffix for h in HISTOGRAMS for suffix in ("_bucket", "_sum", "_count")}
KEYWORDS = {"and", "or", "unless", "offset", "bool", "group_left", "group_right", "Inf", "NaN"}


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        message = "promtool is not installed: run `bash scripts/services.sh` (Debian's prometheus package)"
        if os.environ.get("DPOLOOP_REQUIRE_SERVICES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


def run(*args: str) -> None:
    result = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def metric_names(expr: str) -> set[str]:
    """The series names a PromQL expression selects: what is left once strings, label matchers, ranges,
    label lists, function names, keywords and numbers are taken out."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", expr)
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    return {name for name in re.findall(r"\b([a-zA-Z_][a-zA-Z0-9_]*)\b(?!\s*\()", expr)} - KEYWORDS


def dashboard_queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]


def alert_rules() -> list[dict]:
    return [rule for group in yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"]
            for rule in group["rules"]]  # fmt: skip


def test_metric_names_finds_the_series_and_nothing_else():
    expr = ('histogram_quantile(0.99, sum by (le, route) (rate(dpoloop_http_request_duration_seconds_bucket'
            '{job="dpoloop-api", route=~"a|b"}[5m]))) / on (job) group_left dpoloop_pool_ready offset 5m '
            '> bool 1 unless up')  # fmt: skip
    assert metric_names(expr) == {"dpoloop_http_request_duration_seconds_bucket", "dpoloop_pool_ready", "up"}


def test_prometheus_accepts_the_config(promtool, tmp_path):
    """`promtool check config` (which checks the rule files too) insists that the credentials file
    exists: check a copy that points at a temporary one."""
    token = tmp_path / "dpoloop-admin-token"
    token.write_text("a-token\n")
    config = (PROMETHEUS / "prometheus.yml").read_text()
    assert "credentials_file: /etc/prometheus/dpoloop-admin-token" in config
    (tmp_path / "prometheus.yml").write_text(config.replace("/etc/prometheus/dpoloop-admin-token", str(token)))
    shutil.copy(PROMETHEUS / "alerts.yml", tmp_path / "alerts.yml")
    run(promtool, "check", "config", str(tmp_path / "prometheus.yml"))


def test_the_alert_rules_are_valid_and_pass_their_unit_tests(promtool):
    run(promtool, "check", "rules", str(PROMETHEUS / "alerts.yml"))
    run(promtool, "test", "rules", str(PROMETHEUS / "alerts_test.yml"))


def test_every_alert_has_a_severity_a_summary_and_a_description_and_a_test():
    tests = (PROMETHEUS / "alerts_test.yml").read_text()
    for rule in alert_rules():
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
        assert {"summary", "description"} <= set(rule["annotations"]), rule["alert"]
        assert f"alertname: {rule['alert']}," in tests or f"alertname: {rule['alert']}\n" in tests, rule["alert"]


def test_the_alerts_query_only_dpoloop_metrics_and_up():
    for rule in alert_rules():
        assert metric_names(rule["expr"]) <= KNOWN | {"up"}, (rule["alert"], metric_names(rule["expr"]) - KNOWN)


def test_the_dashboard_parses_and_queries_only_dpoloop_metrics():
    dashboard = json.loads(DASHBOARD.read_text())
    datasource = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())
    uid = datasource["datasources"][0]["uid"]
    panels = dashboard["panels"]
    assert len({panel["id"] for panel in panels}) == len(panels)
    used = set()
    for panel in panels:
        assert panel["targets"] and panel["datasource"]["uid"] == uid, panel["title"]
        for target in panel["targets"]:
            names = metric_names(target["expr"])
            assert names and names <= KNOWN, (panel["title"], target["expr"], names - KNOWN)
            used |= names
    # The panels the operator asked for: votes, pool, queues, workers, rounds, candidates, latency, GPU.
    assert {"dpoloop_votes_total", "dpoloop_pool_ready", "dpoloop_pool_target", "dpoloop_pairs_made_total",
            "dpoloop_queue_depth", "dpoloop_workers_alive", "dpoloop_rounds_total",
            "dpoloop_round_duration_seconds_bucket", "dpoloop_candidates_total",
            "dpoloop_http_request_duration_seconds_bucket", "dpoloop_generation_seconds_bucket",
            "dpoloop_gpu_memory_allocated_bytes", "dpoloop_gpu_memory_reserved_bytes"} <= used  # fmt: skip


def test_the_dashboard_queries_are_valid_promql(promtool, tmp_path):
    """promtool parses every panel query, each wrapped as a recording rule."""
    rules = [{"record": f"dashboard:query_{i}", "expr": expr} for i, expr in enumerate(dashboard_queries())]
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    run(promtool, "check", "rules", str(path))


def test_compose_mounts_the_files_and_scrapes_the_ports_the_workers_serve():
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    for name in ("prometheus", "grafana"):
        assert services[name]["profiles"] == ["monitoring"], name
        for volume in services[name]["volumes"]:
            if volume.startswith("./"):
                assert (REPO_ROOT / volume.split(":")[0]).exists(), volume
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    targets = {job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]}
    assert targets["dpoloop-api"] == ["api:8000"] and "--port 8000" in " ".join(services["api"]["command"])
    served = {f"{name}:{services[name]['environment']['DPOLOOP_WORKER_METRICS_PORT']}"
              for name in ("worker-generate", "worker-train")}  # fmt: skip
    assert set(targets["dpoloop-workers"]) == served
    token_file = config["scrape_configs"][0]["authorization"]["credentials_file"]
    assert {"source": "dpoloop-admin-token", "target": token_file} in services["prometheus"]["secrets"]
