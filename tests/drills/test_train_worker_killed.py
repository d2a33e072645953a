"""kill -9 of the train worker in the middle of a round, on Postgres + Redis with real workers: the
served checkpoint stays, the round fails and frees its slot within the stale time, no vote is lost,
and the next round (on a new train worker) succeeds."""

from __future__ import annotations

import json
import os
import signal

import httpx
import pytest
from sqlalchemy import func, select

from core.db.models import RoundStep, TrainingRound, Vote
from core.db.session import session_scope
from core.queue import GENERATE_WORKER_QUEUES, TRAIN_QUEUE
from core.repo.checkpoints import active_checkpoint_id
from tests.helpers.data import make_labeler
from tests.helpers.stack import Service, dpoloop, stack_env, wait_until
from worker.scenes.policies import get_policy
from worker.scenes.simulate import simulate_labeler

QUICK_ROUND = {"steps": 12, "eval_every": 6, "batch_pairs": 4, "held_out_share": 0.25}
STALE_S = 8


def trainer(env, logs, name: str) -> Service:
    return Service(name, dpoloop("worker", "--queues", TRAIN_QUEUE, "--name", f"{name}@%h"), env, logs)


@pytest.mark.slow
def test_a_killed_train_worker_fails_its_round_and_the_next_round_succeeds(pg_settings, embedded_model, tmp_path):
    port, env = stack_env(pg_settings, embedded_model, pool_target=12, pool_batch=4, pool_interval_s=1,
                          default_steps=8, gate_eval_images=8, gate_min_accuracy=0.0, gate_max_winner_drift=10,
                          gate_max_judge_drop=1, round_schedule="false", round_check_interval_s=1,
                          round_stale_s=STALE_S, dpo_overrides=json.dumps(QUICK_ROUND), promotion="gate")  # fmt: skip
    services = [Service("api", dpoloop("api"), env, tmp_path),
                Service("worker", dpoloop("worker", "--queues", GENERATE_WORKER_QUEUES, "--name", "gen@%h"), env,
                        tmp_path),
                Service("beat", dpoloop("beat"), env, tmp_path)]  # fmt: skip
    first_trainer = trainer(env, tmp_path, "train-1")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: httpx.get(f"{base}/api/v1/health").status_code == 200, 30, "the API", proc=services[0])
        _, token = make_labeler("sim")
        _, admin_token = make_labeler("root", admin=True)
        admin = {"Authorization": f"Bearer {admin_token}"}
        simulate_labeler(base, token, get_policy("smaller"), votes=12, patience_s=120)
        with session_scope() as session:
            votes = session.scalar(select(func.count(Vote.id)))

        long_round = httpx.post(f"{base}/api/v1/admin/rounds", headers=admin, json={"config": {"steps": 100000}})
        assert long_round.status_code == 202, long_round.text
        round_id = long_round.json()["id"]

        def training():
            with session_scope() as session:
                return session.scalar(select(func.count(RoundStep.step)).where(RoundStep.round_id == round_id)) >= 2

        wait_until(training, 180, "the round to train", every=0.5, proc=first_trainer)
        os.killpg(first_trainer.proc.pid, signal.SIGKILL)  # no goodbye: no heartbeat row removed, no task acked
        first_trainer.proc.wait(10)

        def failed():
            with session_scope() as session:
                row = session.get(TrainingRound, round_id)
                return row.state == "failed" and row.active_slot is None and row

        lost = wait_until(failed, STALE_S + 30, "the lost round to be failed", every=0.5, proc=services[1])
        assert "lost" in lost.error
        with session_scope() as session:
            assert active_checkpoint_id(session) == 1 and session.scalar(select(func.count(Vote.id))) == votes

        second_trainer = trainer(env, tmp_path, "train-2")
        services.append(second_trainer)
        next_round = httpx.post(f"{base}/api/v1/admin/rounds", headers=admin, json={"config": {}})
        assert next_round.status_code == 202, next_round.text  # the slot is free

        def ended():
            row = httpx.get(f"{base}/api/v1/admin/rounds/{next_round.json()['id']}", headers=admin).json()
            return row["state"] in ("succeeded", "failed", "cancelled") and row

        done = wait_until(ended, 300, "the next round to end", every=1, proc=second_trainer)
        assert done["state"] == "succeeded", done
        with session_scope() as session:
            assert active_checkpoint_id(session) == done["checkpoint_id"]
            assert session.get(TrainingRound, round_id).state == "failed"  # the killed one stays failed
    finally:
        for service in [first_trainer, *services]:
            service.stop()
