"""Admin REST for rounds and promotions: validation, one-at-a-time, cancel, 4xx for bad promotions."""

from pathlib import Path

from sqlalchemy import select

from core.db.models import Checkpoint, Comparison, Deployment
from core.db.session import session_scope
from core.states import ComparisonState
from tests.api.conftest import auth
from tests.helpers.data import make_comparisons


def test_rounds_need_an_admin(client, alice):
    assert client.post("/api/v1/admin/rounds", json={}, headers=auth(alice)).status_code == 403
    assert client.get("/api/v1/admin/rounds").status_code == 401


def test_invalid_round_settings_are_refused_before_a_round_exists(client, admin):
    for config in ({"beta": -1}, {"steps": 0}, {"method": "qlora"}, {"learning_rate": "fast"}, {"nope": 1}):
        response = client.post("/api/v1/admin/rounds", json={"config": config}, headers=admin)
        assert response.status_code == 422, config
        assert "invalid round config" in response.json()["detail"][0]["msg"]
    assert client.post("/api/v1/admin/rounds", json={"extra": 1}, headers=admin).status_code == 422
    budgets = (({"source_max_pairs": {"import:x": 10}}, "'import:x' is not one of the round's sources"),
               ({"max_pairs": 10, "source_max_pairs": {"votes": 11}}, "add up to 11, more than max_pairs (10)"),
               ({"source_max_pairs": {"votes": 0}}, "at least 1 pair"))  # fmt: skip
    for config, reason in budgets:
        response = client.post("/api/v1/admin/rounds", json={"config": config}, headers=admin)
        assert response.status_code == 422 and reason in response.json()["detail"][0]["msg"], response.text
    assert client.get("/api/v1/admin/rounds", headers=admin).json() == []


def test_start_list_detail_and_cancel_a_queued_round(client, admin):
    response = client.post("/api/v1/admin/rounds", json={"config": {"steps": 7}}, headers=admin)
    assert response.status_code == 202, response.text
    started = response.json()
    assert started["state"] == "queued" and started["trigger"] == "admin" and started["config"]["steps"] == 7
    assert started["config"]["beta"] == 2000.0  # the embedded model's default under the override
    busy = client.post("/api/v1/admin/rounds", json={}, headers=admin)
    assert busy.status_code == 409 and f"round {started['id']}" in busy.json()["detail"]
    assert [r["id"] for r in client.get("/api/v1/admin/rounds", headers=admin).json()] == [started["id"]]
    detail = client.get(f"/api/v1/admin/rounds/{started['id']}", headers=admin).json()
    assert detail["steps"] == [] and detail["counts"] == {}
    cancelled = client.post(f"/api/v1/admin/rounds/{started['id']}/cancel", headers=admin).json()
    assert cancelled["state"] == "cancelled"
    assert client.post(f"/api/v1/admin/rounds/{started['id']}/cancel", headers=admin).status_code == 409
    assert client.post("/api/v1/admin/rounds", json={}, headers=admin).status_code == 202  # the slot is free
    assert client.get("/api/v1/admin/rounds/999999", headers=admin).status_code == 404
    assert client.get("/api/v1/admin/rounds/99999999999999", headers=admin).status_code == 422


def _checkpoint(kind: str, path: Path | None, status: str = "ready") -> int:
    with session_scope() as session:
        row = Checkpoint(name=f"c-{kind}-{status}", kind=kind, path=str(path) if path else None, parent_id=1,
                         status=status, metrics={})  # fmt: skip
        session.add(row)
        session.flush()
        return row.id


def test_promote_roll_back_and_refuse(client, admin, alice, tmp_path):
    lora_dir = tmp_path / "ck"
    lora_dir.mkdir()
    (lora_dir / "pytorch_lora_weights.safetensors").write_bytes(b"x")  # the API checks files exist, not tensors
    good = _checkpoint("lora", lora_dir)
    missing = _checkpoint("lora", tmp_path / "gone")
    broken = _checkpoint("lora", lora_dir, status="broken")
    old_pool = make_comparisons(2, checkpoint_id=1)

    assert client.post(f"/api/v1/admin/checkpoints/{good}/promote", headers=auth(alice)).status_code == 403
    assert client.post("/api/v1/admin/checkpoints/99999/promote", headers=admin).status_code == 404
    response = client.post(f"/api/v1/admin/checkpoints/{missing}/promote", headers=admin)
    assert response.status_code == 409 and "missing" in response.json()["detail"]
    response = client.post(f"/api/v1/admin/checkpoints/{broken}/promote", headers=admin)
    assert response.status_code == 409 and "broken" in response.json()["detail"]

    response = client.post(f"/api/v1/admin/checkpoints/{good}/promote", json={"reason": "looks good"}, headers=admin)
    assert response.status_code == 200 and response.json()["checkpoint_id"] == good
    listed = {c["id"]: c for c in client.get("/api/v1/checkpoints", headers=auth(alice)).json()}
    assert listed[good]["active"] and not listed[1]["active"] and listed[good]["parent_id"] == 1
    with session_scope() as session:  # the base's unlabeled pairs leave the pool
        states = session.scalars(select(Comparison.state).where(Comparison.id.in_(old_pool))).all()
        assert set(states) == {ComparisonState.retired}

    assert client.post("/api/v1/admin/checkpoints/1/promote", headers=admin).status_code == 200  # rollback
    assert client.get("/api/v1/checkpoints/active", headers=admin).json()["id"] == 1
    history = client.get("/api/v1/admin/deployments", headers=admin).json()
    assert [d["checkpoint_id"] for d in history] == [1, good, 1]
    assert history[1]["reason"] == "looks good" and history[1]["promoted_by"] == "root"
    with session_scope() as session:
        assert len(session.scalars(select(Deployment)).all()) == 3


def test_a_round_the_train_worker_cannot_fit_is_refused_before_it_is_queued(client, admin, monkeypatch, tmp_path):
    from core.family import ModelFamily
    from core.schemas.rounds import DPOConfig
    from core.training_memory import estimate_gb
    from tests.conftest import apply_settings
    from tests.helpers.tiny_pipelines import build_tiny_flux

    flux = build_tiny_flux(tmp_path)
    lora = estimate_gb(flux, ModelFamily.flux, DPOConfig(method="lora"))
    full = estimate_gb(flux, ModelFamily.flux, DPOConfig(method="full"))
    assert 0 < lora < full  # a full fine-tune also holds fp32 weights, gradients and AdamW's moments
    apply_settings(monkeypatch, base_model=flux, train_memory_gb=(lora + full) / 2)
    refused = client.post("/api/v1/admin/rounds", json={"config": {"method": "full"}}, headers=admin)
    assert refused.status_code == 422
    message = refused.json()["detail"][0]["msg"]
    assert "a full round of this flux model needs at least" in message and "DPOLOOP_TRAIN_MEMORY_GB" in message
    assert client.get("/api/v1/admin/rounds", headers=admin).json() == []
    accepted = client.post("/api/v1/admin/rounds", json={"config": {"method": "lora"}}, headers=admin)
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["config"]["beta"] == 500.0  # the flow families' default
