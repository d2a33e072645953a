"""A real Celery worker on Redis fills the pool with the embedded model; beat schedules it."""

from pathlib import Path

import httpx
import numpy as np
from PIL import Image
from sqlalchemy import select

from core.db.models import Comparison, Generation
from core.db.session import session_scope
from core.repo.comparisons import ready_pool_count
from core.states import GenerationStatus
from tests.helpers.data import make_labeler
from tests.helpers.stack import wait_until


def test_beat_and_worker_fill_the_pool_with_stored_pairs(live_stack):
    worker = live_stack["services"][1]

    def pool_full():
        with session_scope() as session:
            return ready_pool_count(session, 1) >= 6

    wait_until(pool_full, 180, "a full pool", every=1, proc=worker)
    data_dir = Path(live_stack["data_dir"])
    with session_scope() as session:
        comparisons = session.scalars(select(Comparison)).all()
        for c in comparisons:
            a, b = session.get(Generation, c.generation_a_id), session.get(Generation, c.generation_b_id)
            assert a.prompt == b.prompt == c.prompt and a.seed != b.seed
            for g in (a, b):
                assert g.status == GenerationStatus.done and g.checkpoint_id == 1 and g.purpose == "pool"
                assert Image.open(data_dir / "media" / g.image_path).size == (64, 64)
                assert np.load(data_dir / "latents" / g.latents_path).shape == (4, 16, 16)
        # Least-used prompts first: the first pairs all have different prompts.
        assert len({c.prompt_id for c in comparisons[:6]}) == 6


def test_rest_generation_is_made_by_the_worker(live_stack):
    _, token = make_labeler("client")
    headers = {"Authorization": f"Bearer {token}"}
    base = live_stack["base_url"]
    r = httpx.post(f"{base}/api/v1/generations?wait=true", headers=headers, timeout=60,
                   json={"prompt": "a large blue square", "seed": 7, "num_inference_steps": 10})  # fmt: skip
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "done" and body["checkpoint_id"] == 1 and body["seed"] == 7
    image = httpx.get(base + body["image_url"])
    assert image.status_code == 200 and image.content[:4] == b"\x89PNG"
    again = httpx.get(f"{base}/api/v1/generations/{body['id']}", headers=headers).json()
    assert again["status"] == "done" and again["image_url"].split("?")[0] == body["image_url"].split("?")[0]
    with session_scope() as session:  # a client's image: no round trains on it, so no latents are kept
        made = session.get(Generation, body["id"])
        assert made.latents_path is None
        assert not (Path(live_stack["data_dir"]) / "latents" / f"{made.public_id}.npy").exists()


def test_health_sees_the_worker(live_stack):
    admin = {"Authorization": f"Bearer {make_labeler('health-admin', admin=True)[1]}"}

    def worker_alive():
        body = httpx.get(live_stack["base_url"] + "/api/v1/admin/health", headers=admin).json()
        return body["status"] == "ok" and body["workers"][0]["checkpoint_id"] == 1 and body

    body = wait_until(worker_alive, 60, "a live worker in /health", proc=live_stack["services"][1])
    assert "generate" in body["workers"][0]["queues"] and "train" in body["workers"][0]["queues"]
