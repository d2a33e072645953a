"""The loop end to end on Postgres + Redis + Celery workers + beat, as separate processes:
simulated votes → a scheduled round → gate → promotion → hot swap, while a stream of REST
generations runs through the swap → labelers' evaluation of the promotion; and a train worker
killed mid-round."""

import json
import os
import signal
import threading
import time

import httpx
import pytest
from sqlalchemy import func, select

from core.db.models import Deployment, RoundStep, TrainingRound, Vote
from core.db.session import session_scope
from core.queue import GENERATE_WORKER_QUEUES
from core.repo.checkpoints import active_checkpoint_id
from tests.helpers.data import make_labeler
from tests.helpers.stack import Service, dpoloop, stack_env, wait_until
from worker.scenes.policies import get_policy
from worker.scenes.simulate import simulate_labeler

QUICK_ROUND = {"steps": 12, "eval_every": 6, "batch_pairs": 4, "held_out_share": 0.25}


@pytest.fixture
def loop_stack(pg_settings, embedded_model, tmp_path):
    def start(**overrides):
        settings = dict(
            pool_target=12, pool_batch=4, pool_interval_s=1, default_steps=8, gate_eval_images=8,
            gate_min_accuracy=0.0, gate_max_winner_drift=10, gate_max_judge_drop=1, round_check_interval_s=1,
            round_min_interval_s=0, round_min_pairs=5, dpo_overrides=json.dumps(QUICK_ROUND),
            generation_rate_limit="100000/minute",  # the client below streams generations as fast as they come
            promotion="gate",  # the gate's promotion and its hot swap (the labelers' verdict: test_candidates_e2e)
        )  # fmt: skip
        port, env = stack_env(pg_settings, embedded_model, **(settings | overrides))
        logs = tmp_path / "logs"
        logs.mkdir(exist_ok=True)
        services = {
            "api": Service("api", dpoloop("api"), env, logs),
            "worker": Service("worker", dpoloop("worker", "--queues", GENERATE_WORKER_QUEUES, "--name", "gen@%h"), env,
                              logs),
            "trainer": Service("trainer", dpoloop("worker", "--queues", "train", "--name", "train@%h"), env, logs),
            "beat": Service("beat", dpoloop("beat"), env, logs),
        }
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: httpx.get(f"{base}/api/v1/health").status_code == 200, 30, "the API", proc=services["api"])
        started.append(services)
        return base, services

    started: list[dict] = []
    yield start
    for services in started:
        for service in services.values():
            service.stop()


def test_votes_become_a_promoted_checkpoint_that_serves_without_a_failed_request(loop_stack):
    # A long minimum interval: votes that land after the round's snapshot must not start a second one.
    base, services = loop_stack(round_min_interval_s=3600)
    _, token = make_labeler("sim")
    _, client_token = make_labeler("client")
    # 14 votes: ties do not count, and the schedule needs 5 decisive comparisons.
    report = simulate_labeler(base, token, get_policy("smaller"), votes=14, patience_s=120)
    assert report.votes == 14 and report.choices["left"] + report.choices["right"] >= 5, report.choices

    # A stream of REST generations through the round, the promotion and the swap.
    stop, results, failures = threading.Event(), [], []

    def stream():
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {client_token}"}, timeout=60) as c:
            while not stop.is_set():
                r = c.post("/api/v1/generations?wait=true", json={"prompt": "a red circle", "num_inference_steps": 4})
                body = r.json()
                if r.status_code != 200 or body["status"] != "done":
                    failures.append((r.status_code, body))
                else:
                    results.append((time.monotonic(), body["checkpoint_id"]))

    client = threading.Thread(target=stream, daemon=True)
    client.start()

    def promoted():
        with session_scope() as session:
            return active_checkpoint_id(session) != 1 and active_checkpoint_id(session)

    try:
        new_id = wait_until(promoted, 300, "a scheduled round to promote a checkpoint", every=1,
                            proc=services["trainer"])  # fmt: skip
        promoted_at = time.monotonic()
        wait_until(lambda: any(c == new_id and t > promoted_at for t, c in results), 60,
                   "a generation from the new checkpoint", proc=services["worker"])  # fmt: skip
        time.sleep(1)
    finally:
        stop.set()
        client.join(90)
    assert failures == []
    made_by = [c for _, c in results]
    assert made_by[0] == 1 and made_by[-1] == new_id
    assert made_by == sorted(made_by, key=lambda c: c == new_id)  # base until the swap, then only the new one

    with session_scope() as session:
        row = session.scalars(select(TrainingRound)).one()
        assert row.trigger == "schedule" and row.state.value == "succeeded" and row.checkpoint_id == new_id
        assert session.scalar(select(func.count()).where(RoundStep.round_id == row.id)) == 12
    _, admin_token = make_labeler("boss", admin=True)
    listed = httpx.get(f"{base}/api/v1/checkpoints", headers={"Authorization": f"Bearer {admin_token}"}).json()
    assert [c["id"] for c in listed if c["active"]] == [new_id]
    assert listed[-1]["metrics"]["gate"]["passed"] and listed[-1]["parent_id"] == 1

    # The worker pairs the new checkpoint with the base on the fixed eval prompts; labelers get those first.
    admin_headers = {"Authorization": f"Bearer {admin_token}"}

    def evaluated():
        rows = httpx.get(f"{base}/api/v1/admin/evaluations", headers=admin_headers).json()
        return rows and rows[0]

    evaluation = wait_until(evaluated, 120, "the promotion's human evaluation", every=1, proc=services["worker"])
    assert (evaluation["checkpoint_id"], evaluation["baseline_id"], evaluation["pairs"]) == (new_id, 1, 16)
    _, judge_token = make_labeler("judge")
    simulate_labeler(base, judge_token, get_policy("smaller"), votes=16, patience_s=60)
    verdict = httpx.get(f"{base}/api/v1/checkpoints/active", headers=admin_headers).json()["human_eval"]
    assert sum(verdict[k] for k in ("wins", "losses", "ties", "both_bad", "skips")) == 16, verdict


def test_a_train_worker_killed_mid_round_fails_the_round_and_touches_nothing_else(loop_stack):
    base, services = loop_stack(round_stale_s=4, round_schedule="false", dpo_overrides=json.dumps({"steps": 100000}))
    _, token = make_labeler("sim")
    simulate_labeler(base, token, get_policy("smaller"), votes=8, patience_s=120)
    _, admin_token = make_labeler("boss", admin=True)
    headers = {"Authorization": f"Bearer {admin_token}"}
    round_id = httpx.post(f"{base}/api/v1/admin/rounds", json={}, headers=headers).json()["id"]

    def training():
        with session_scope() as session:
            return session.scalar(select(func.count()).where(RoundStep.round_id == round_id)) >= 3

    wait_until(training, 120, "the round to train a few steps", every=0.5, proc=services["trainer"])
    os.killpg(services["trainer"].proc.pid, signal.SIGKILL)

    def failed():
        r = httpx.get(f"{base}/api/v1/admin/rounds/{round_id}", headers=headers).json()
        return r["state"] == "failed" and r

    row = wait_until(failed, 60, "the lost round to be failed by the scheduler's check", every=0.5)
    assert "lost" in row["error"]
    with session_scope() as session:
        assert active_checkpoint_id(session) == 1 and session.scalar(select(func.count(Deployment.id))) == 1
        assert session.scalar(select(func.count(Vote.id))) == 8
    # The slot is free again: a new round can start.
    assert httpx.post(f"{base}/api/v1/admin/rounds", json={}, headers=headers).status_code == 202
