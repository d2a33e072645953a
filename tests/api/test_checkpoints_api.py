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
