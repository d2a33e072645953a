"""Generations, checkpoints, admin and health over REST, on Postgres with Redis as the broker."""

import redis

from tests.api.conftest import auth


def test_generation_request_is_queued_on_the_generate_queue(client, alice, pg_settings):
    r = client.post("/api/v1/generations", headers=auth(alice), json={"prompt": "a red circle", "seed": 5})
    assert r.status_code == 202
    body = r.json()
    assert body["status"] == "queued" and body["seed"] == 5 and body["image_url"] is None
    assert body["params"]["num_inference_steps"] == 20 and body["params"]["guidance_scale"] == 4.0
    assert redis.Redis.from_url(pg_settings["broker_url"]).llen("generate") == 1


def test_wait_without_a_worker_returns_202_after_the_timeout(client, alice, monkeypatch):
    from tests.conftest import apply_settings

    apply_settings(monkeypatch, generation_wait_s=0.3)
    r = client.post("/api/v1/generations?wait=true", headers=auth(alice), json={"prompt": "a red circle"})
    assert r.status_code == 202 and r.json()["status"] == "queued"


def test_checkpoints_start_with_the_base_serving(client, alice):
    listed = client.get("/api/v1/checkpoints", headers=auth(alice)).json()
    assert [(c["id"], c["kind"], c["active"]) for c in listed] == [(1, "base", True)]
    assert client.get("/api/v1/checkpoints/active", headers=auth(alice)).json()["id"] == 1


def test_admin_creates_a_labeler_whose_token_works(client, admin):
    created = client.post("/api/v1/admin/labelers", headers=admin, json={"name": "dora"}).json()
    assert created["role"] == "labeler" and created["login_url"].endswith(f"#token={created['token']}")
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {created['token']}"}).json()
    assert me["name"] == "dora"
    names = [x["name"] for x in client.get("/api/v1/admin/labelers", headers=admin).json()]
    assert names == ["root", "dora"]


def test_admin_adds_prompts_once(client, admin):
    body = {"prompts": ["a red circle", "a blue square", "a red circle"]}
    assert client.post("/api/v1/admin/prompts", headers=admin, json=body).json() == {"added": 2, "skipped": 1}
    assert client.post("/api/v1/admin/prompts", headers=admin, json=body).json() == {"added": 0, "skipped": 3}


def test_health_reports_database_broker_and_no_workers_to_admins(client, admin):
    body = client.get("/api/v1/admin/health", headers=admin).json()
    assert body["database"] == "ok" and body["broker"] == "ok"
    assert body["workers"] == [] and body["status"] == "degraded"


def test_open_health_is_liveness_only_and_touches_no_database(client, alice, admin):
    from sqlalchemy import event

    from core.db.session import engine_for
    from core.services.workers import beat
    from core.settings import get_settings

    beat("gen@host-7.internal", "generate,pool", None)
    statements = []

    def count(*_):
        statements.append(1)

    event.listen(engine_for(get_settings().sqlalchemy_url), "before_cursor_execute", count)
    try:
        answers = [client.get("/api/v1/health") for _ in range(3)]
    finally:
        event.remove(engine_for(get_settings().sqlalchemy_url), "before_cursor_execute", count)
    assert [(a.status_code, a.json()) for a in answers] == [(200, {"status": "ok"})] * 3
    assert statements == []  # no query, no broker connection: a load balancer may call it freely
    assert "host-7" not in answers[0].text
    assert client.get("/api/v1/admin/health").status_code == 401
    assert client.get("/api/v1/admin/health", headers=auth(alice)).status_code == 403
    details = client.get("/api/v1/admin/health", headers=admin).json()
    assert [w["name"] for w in details["workers"]] == ["gen@host-7.internal"] and details["workers"][0]["alive"]


def test_openapi_docs_are_served(client):
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert "/api/v1/comparisons/{handle}/vote" in paths and "/api/v1/generations" in paths


def test_frontend_is_served_at_the_root(client):
    page = client.get("/")
    assert page.status_code == 200 and "dpoloop" in page.text
