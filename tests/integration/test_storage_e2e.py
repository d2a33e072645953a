"""Several machines sharing only Postgres, Redis and an S3 bucket: the API, the generate worker and the
train worker each get an empty data dir of their own, and a round, its promotion and a generation from
the new checkpoint go through the real S3-compatible server (moto's, started by scripts/services.sh).
Then the store goes down (a proxy in front of it cut) and comes back: clear errors, no vote lost, and
the loop carries on by itself."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import boto3
import httpx
import pytest
from sqlalchemy import func, select

from core.db.models import Checkpoint, Vote
from core.db.session import session_scope
from core.queue import GENERATE_WORKER_QUEUES
from core.repo.checkpoints import active_checkpoint_id
from tests.conftest import S3_CREDENTIALS, new_bucket
from tests.helpers.data import make_labeler
from tests.helpers.stack import Service, dpoloop, generation_to_the_end, stack_env, wait_until
from tests.helpers.tcp_proxy import TcpProxy
from worker.scenes.policies import get_policy
from worker.scenes.simulate import simulate_labeler

QUICK_ROUND = {"steps": 12, "eval_every": 6, "batch_pairs": 4, "held_out_share": 0.25}
FILE_KINDS = (".png", ".npy", ".safetensors")


@pytest.fixture
def store_proxy(s3_endpoint):
    target = urlsplit(s3_endpoint)
    proxy = TcpProxy(target.hostname, target.port).up()
    yield proxy
    proxy.down()


@pytest.fixture
def machines(pg_settings, embedded_model, tmp_path, s3_endpoint, store_proxy):
    bucket = new_bucket(s3_endpoint)
    port, env = stack_env(
        pg_settings, embedded_model, pool_target=8, pool_batch=4, pool_interval_s=1, default_steps=8,
        gate_eval_images=8, gate_min_accuracy=0.0, gate_max_winner_drift=10, gate_max_judge_drop=1,
        round_check_interval_s=1, round_min_interval_s=0, round_min_pairs=5, round_schedule="false",
        dpo_overrides=json.dumps(QUICK_ROUND), promotion="gate", storage_url=f"s3://{bucket}/install",
        generation_rate_limit="100000/minute",
    )  # fmt: skip
    env |= S3_CREDENTIALS | {"AWS_ENDPOINT_URL": store_proxy.url}
    logs = tmp_path / "logs"
    logs.mkdir()
    dirs = {name: tmp_path / f"machine-{name}" for name in ("api", "gen", "train")}

    def on(machine: str) -> dict[str, str]:
        return env | {"DPOLOOP_DATA_DIR": str(dirs[machine])}

    services = {
        "api": Service("api", dpoloop("api"), on("api"), logs),
        "beat": Service("beat", dpoloop("beat"), on("api"), logs),
        "gen": Service("gen", dpoloop("worker", "--queues", GENERATE_WORKER_QUEUES, "--name", "gen@%h"), on("gen"),
                       logs),  # fmt: skip
        "train": Service("train", dpoloop("worker", "--queues", "train", "--name", "train@%h"), on("train"), logs),
    }
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: httpx.get(f"{base}/api/v1/health").status_code == 200, 30, "the API", proc=services["api"])
    yield {"base": base, "services": services, "dirs": dirs, "bucket": bucket}
    for service in services.values():
        service.stop()


def files_outside_cache(folder: Path) -> list[str]:
    """Images, latents and weights a machine holds other than in its cache of the store."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if p.suffix in FILE_KINDS and p.relative_to(folder).parts[0] != "cache")  # fmt: skip


def test_a_round_a_promotion_and_a_generation_on_three_machines_sharing_only_the_bucket(
    machines, s3_endpoint, store_proxy
):
    base, services, dirs = machines["base"], machines["services"], machines["dirs"]
    _, token = make_labeler("sim")
    _, admin_token = make_labeler("boss", admin=True)
    _, client_token = make_labeler("client")
    admin, client = ({"Authorization": f"Bearer {t}"} for t in (admin_token, client_token))
    report = simulate_labeler(base, token, get_policy("smaller"), votes=14, patience_s=180)  # images via the API
    assert report.votes == 14 and report.choices["left"] + report.choices["right"] >= 5, report.choices

    assert httpx.post(f"{base}/api/v1/admin/rounds", json={}, headers=admin).status_code == 202

    def promoted():
        with session_scope() as session:
            return active_checkpoint_id(session) != 1 and active_checkpoint_id(session)

    new_id = wait_until(promoted, 300, "the round to promote its checkpoint", every=1, proc=services["train"])
    with session_scope() as session:
        key = session.get(Checkpoint, new_id).path
    assert key.startswith("checkpoints/round-"), key  # a key in the store, not a path on the trainer

    def generate() -> dict:
        return generation_to_the_end(base, client, {"prompt": "a red circle", "num_inference_steps": 4},
                                     proc=services["gen"])  # fmt: skip

    made = wait_until(lambda: (g := generate())["checkpoint_id"] == new_id and g, 120,
                      "a generation from the promoted checkpoint", every=1, proc=services["gen"])  # fmt: skip
    assert made["status"] == "done"
    image = httpx.get(base + made["image_url"])
    assert image.status_code == 200 and image.content[:8] == b"\x89PNG\r\n\x1a\n"

    # Each machine holds only its cache; the store holds the checkpoint, published with its manifest.
    for machine, folder in dirs.items():
        assert files_outside_cache(folder) == [], machine
    assert (dirs["gen"] / "cache" / key / "MANIFEST.json").is_file()  # the generate worker read it from the store
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, aws_access_key_id="test", aws_secret_access_key="test",
                      region_name="us-east-1")  # fmt: skip
    stored = {o["Key"] for o in s3.list_objects_v2(Bucket=machines["bucket"], Prefix=f"install/{key}/")["Contents"]}
    assert {f"install/{key}/MANIFEST.json", f"install/{key}/pytorch_lora_weights.safetensors"} <= stored

    # The store goes down.
    labeler = {"Authorization": f"Bearer {token}"}
    served = wait_until(lambda: (r := httpx.get(f"{base}/api/v1/comparisons/next", headers=labeler)).status_code
                        == 200 and r.json(), 120, "a pair of the new checkpoint", proc=services["gen"])  # fmt: skip
    with session_scope() as session:
        votes_before = session.scalar(select(func.count(Vote.id)))
    store_proxy.down()
    try:
        vote = httpx.post(f"{base}/api/v1/comparisons/{served['id']}/vote", json={"choice": "left"}, headers=labeler)
        assert vote.status_code == 201, vote.text  # votes never need the store
        unreachable = httpx.get(base + served["left"]["url"], timeout=60)
        assert unreachable.status_code == 503 and "unreachable" in unreachable.json()["detail"]
        failed = generate()
        assert failed["status"] == "failed" and "object store" in failed["error"], failed
    finally:
        store_proxy.up()
    with session_scope() as session:
        assert session.scalar(select(func.count(Vote.id))) == votes_before + 1
        assert active_checkpoint_id(session) == new_id  # an outage marks nothing broken

    # Back: generations and the pool carry on without anyone's help.
    again = generate()
    assert again["status"] == "done" and again["checkpoint_id"] == new_id, again
    assert httpx.get(base + again["image_url"]).status_code == 200
    fresh = wait_until(lambda: (r := httpx.get(f"{base}/api/v1/comparisons/next", headers=labeler)).status_code
                       == 200 and r.json(), 120, "a pair after the outage", proc=services["gen"])  # fmt: skip
    assert httpx.get(base + fresh["left"]["url"]).status_code == 200
