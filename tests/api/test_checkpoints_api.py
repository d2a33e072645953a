"""Clearing a checkpoint's broken mark (its load failure was passing), over REST."""

import shutil

from core.db.models import Checkpoint
from core.db.session import session_scope
from core.repo.checkpoints import mark_broken
from tests.api.conftest import auth
from tests.api.test_evaluations_api import new_checkpoint


def test_an_admin_clears_a_broken_mark_and_can_then_promote(client, admin, alice, tmp_path):
    lora = new_checkpoint(tmp_path, "lora")
    with session_scope() as session:
        mark_broken(session, lora, "failed to load 3 times: MemoryError")
    assert client.post(f"/api/v1/admin/checkpoints/{lora}/promote", headers=admin).status_code == 409
    assert client.post(f"/api/v1/admin/checkpoints/{lora}/clear-broken", headers=auth(alice)).status_code == 403
    cleared = client.post(f"/api/v1/admin/checkpoints/{lora}/clear-broken", headers=admin)
    assert cleared.status_code == 200 and cleared.json()["status"] == "ready"
    assert "cleared by root" in cleared.json()["status_reason"]
    assert client.post(f"/api/v1/admin/checkpoints/{lora}/promote", headers=admin).status_code == 200
    assert client.post("/api/v1/admin/checkpoints/999/clear-broken", headers=admin).status_code == 404


def test_a_checkpoint_whose_files_are_gone_stays_broken(client, admin, tmp_path):
    lora = new_checkpoint(tmp_path, "lora")
    with session_scope() as session:
        mark_broken(session, lora, "failed to load")
        path = session.get(Checkpoint, lora).path
    shutil.rmtree(path)
    r = client.post(f"/api/v1/admin/checkpoints/{lora}/clear-broken", headers=admin)
    assert r.status_code == 409 and "missing" in r.json()["detail"]


def test_the_image_grid_lists_missing_images_and_queues_them(client, admin, alice, tmp_path):
    from core.repo.prompts import seed_shipped_prompts

    with session_scope() as session:
        seed_shipped_prompts(session)
    child = new_checkpoint(tmp_path, "child")
    url = f"/api/v1/admin/checkpoints/{child}/grid"
    body = client.get(url, headers=admin).json()
    assert [(c["checkpoint_id"], c["role"]) for c in body["columns"]] == [(1, "parent"), (child, "checkpoint")]
    assert (body["made"], body["total"], body["queued"]) == (0, 2 * len(body["rows"]), False)
    assert all(r["images"] == [None, None] for r in body["rows"]) and len({r["prompt"] for r in body["rows"]}) > 1
    queued = client.post(url, headers=admin)  # a real broker takes the chunk task; no worker runs here
    assert queued.status_code == 202 and queued.json()["queued"] is True
    assert client.get("/api/v1/admin/checkpoints/999/grid", headers=admin).status_code == 404
    assert client.get(url, headers=auth(alice)).status_code == 403
