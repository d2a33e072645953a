"""The rate limiter's Redis misbehaves: the API's event loop never waits on it, and a request whose
limit cannot be checked gets 503 with a reason rather than passing unlimited."""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from core.db.models import Generation
from core.db.session import session_scope
from tests.api.conftest import auth
from tests.conftest import apply_settings
from tests.helpers.data import make_labeler
from tests.helpers.stack import Service, dpoloop, free_port, service_env, start_redis, wait_until


class SilentRedis:
    """A TCP server on loopback that accepts every connection and never answers: a Redis behind a
    network that drops its packets."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                self.held.append(self.server.accept()[0])
            except OSError:  # closed
                return

    def close(self) -> None:
        self.server.close()
        for conn in self.held:
            conn.close()


@pytest.mark.serial  # a time budget: run alone on the machine
def test_a_silent_redis_neither_freezes_the_api_nor_lets_generations_through(pg_settings, embedded_model, tmp_path):
    silent = SilentRedis()
    _, token = make_labeler("alice")
    port = free_port()
    env = service_env(database_url=pg_settings["database_url"], broker_url=f"redis://127.0.0.1:{silent.port}/0",
                      data_dir=pg_settings["data_dir"], base_model=embedded_model, port=port)  # fmt: skip
    api = Service("api", dpoloop("api"), env, tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: httpx.get(f"{base}/api/v1/health").status_code == 200, 30, "the API", proc=api)
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(httpx.post, f"{base}/api/v1/generations", json={"prompt": "a red circle"},
                                  headers={"Authorization": f"Bearer {token}"}, timeout=20)  # fmt: skip
            time.sleep(0.3)  # the request is waiting on the silent Redis now
            started = time.monotonic()
            live = httpx.get(f"{base}/api/v1/health", timeout=5)  # the event loop still answers meanwhile
            assert live.status_code == 200 and time.monotonic() - started < 2
            answer = pending.result(timeout=30)
        assert answer.status_code == 503, answer.text
        assert "rate limit" in answer.json()["detail"] and answer.headers["Retry-After"]
    finally:
        api.stop()
        silent.close()
    with session_scope() as session:
        assert session.scalar(select(func.count(Generation.id))) == 0


def test_a_redis_that_refuses_the_limiters_scripts_does_not_let_generations_through_unlimited(pg_settings, monkeypatch):
    from app.api.main import create_app

    port = free_port()
    # Every other command works (the broker's among them): only the limiter's Lua scripts fail.
    redis = start_redis(port, "--rename-command", "EVALSHA", "", "--rename-command", "EVAL", "")
    try:
        apply_settings(monkeypatch, broker_url=f"redis://127.0.0.1:{port}/0", generation_rate_limit="1/minute")
        _, token = make_labeler("alice")
        alice = {"Authorization": f"Bearer {token}"}
        with TestClient(create_app()) as client:
            answers = [client.post("/api/v1/generations", headers=auth(alice), json={"prompt": "a red circle"})
                       for _ in range(3)]  # fmt: skip
    finally:
        redis.terminate()
        redis.wait(10)
    assert [a.status_code for a in answers] == [503] * 3, [a.text for a in answers]
    assert "rate limit" in answers[0].json()["detail"]
    with session_scope() as session:
        assert session.scalar(select(func.count(Generation.id))) == 0
