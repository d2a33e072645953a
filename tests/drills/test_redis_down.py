"""Redis (the broker) stops: votes are still recorded, generation requests get 503 with a reason,
and everything resumes when Redis is back. A private Redis, so the drill stops only its own."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from tests.api.conftest import auth
from tests.conftest import apply_settings
from tests.helpers.data import make_comparisons, make_labeler
from tests.helpers.stack import free_port, start_redis


def test_votes_survive_a_broker_outage_and_generation_resumes(pg_settings, monkeypatch):
    from app.api.main import create_app

    port = free_port()
    broker = start_redis(port)
    try:
        apply_settings(monkeypatch, broker_url=f"redis://127.0.0.1:{port}/0")
        labeler_id, token = make_labeler("alice")
        alice = {"Authorization": f"Bearer {token}"}
        admin = {"Authorization": f"Bearer {make_labeler('root', admin=True)[1]}"}
        make_comparisons(3)
        with TestClient(create_app()) as client:

            def vote_on_next() -> int:
                pair = client.get("/api/v1/comparisons/next", headers=auth(alice)).json()
                return client.post(f"/api/v1/comparisons/{pair['id']}/vote", headers=auth(alice),
                                   json={"choice": "left"}).status_code  # fmt: skip

            def generate():
                return client.post("/api/v1/generations", headers=auth(alice), json={"prompt": "a red circle"})

            assert vote_on_next() == 201 and generate().status_code == 202
            broker.terminate()
            broker.wait(10)
            assert vote_on_next() == 201  # votes need only the database
            down = generate()
            assert down.status_code == 503 and "unreachable" in down.json()["detail"]
            assert client.get("/api/v1/admin/health", headers=admin).json()["broker"].startswith("unreachable")
            broker = start_redis(port)
            assert vote_on_next() == 201
            deadline = time.monotonic() + 20  # the client reconnects on its next send
            while (up := generate()).status_code != 202 and time.monotonic() < deadline:
                time.sleep(0.5)
            assert up.status_code == 202
            assert client.get("/api/v1/me", headers=auth(alice)).json()["votes"] == 3
    finally:
        broker.terminate()
        broker.wait(10)
