"""Checks before a body is read: 413 above the size limit, 401 without a token; and error answers
shaped as the OpenAPI document says."""

from __future__ import annotations

import asyncio

from app.api.guard import RequestGuard
from tests.api.conftest import auth


def run_guard(method: str, path: str, headers: dict[bytes, bytes], chunks: list[bytes], max_body: int = 100):
    """Send one request through the guard around an app that reads the whole body and answers 200."""
    read, sent = [], []

    async def app(scope, receive, send):
        while True:
            message = await receive()
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def receive():
        index = len(read)
        read.append(index)
        return {"type": "http.request", "body": chunks[index], "more_body": index < len(chunks) - 1}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "headers": list(headers.items())}
    asyncio.run(RequestGuard(app, max_body)(scope, receive, send))
    return sent[0]["status"], len(read)


def test_a_declared_length_above_the_limit_is_413_unread():
    status, reads = run_guard("POST", "/api/v1/health", {b"content-length": b"101"}, [b"x" * 101])
    assert (status, reads) == (413, 0)


def test_a_streamed_body_above_the_limit_is_413():
    status, _ = run_guard("POST", "/api/v1/health", {}, [b"x" * 60, b"x" * 60])
    assert status == 413
    assert run_guard("POST", "/api/v1/health", {}, [b"x" * 50, b"x" * 50])[0] == 200


def test_a_body_without_a_token_is_refused_unread(pg_settings):
    for headers in ({}, {b"authorization": b"Bearer not-a-token"}):
        status, reads = run_guard("POST", "/api/v1/comparisons/1/vote", {**headers, b"content-length": b"50"},
                                  [b"x" * 50])  # fmt: skip
        assert (status, reads) == (401, 0)


def test_the_size_limit_holds_on_the_real_app(client, admin, monkeypatch):
    from fastapi.testclient import TestClient

    from app.api.main import create_app
    from tests.conftest import apply_settings

    apply_settings(monkeypatch, max_body_bytes=2048)
    with TestClient(create_app()) as small:
        big = {"prompts": ["a red circle " * 20] * 20}
        r = small.post("/api/v1/admin/prompts", headers=admin, json=big)
        assert r.status_code == 413 and "larger than 2048 bytes" in r.json()["detail"]
        assert small.post("/api/v1/admin/prompts", headers=admin, json={"prompts": ["a red circle"]}).status_code == 201


def test_route_errors_match_the_documented_shapes(client, admin, alice):
    spec = client.get("/openapi.json").json()
    vote = spec["paths"]["/api/v1/comparisons/{handle}/vote"]["post"]["responses"]
    assert {"401", "404", "409", "422"} <= set(vote)
    r = client.post("/api/v1/admin/rounds", headers=admin, json={"config": {"beta": -1}})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "config"]
    r = client.get("/api/v1/comparisons/next?exclude=" + ",".join(map(str, range(101))), headers=auth(alice))
    assert r.status_code == 422 and isinstance(r.json()["detail"], list)


def test_times_carry_their_offset(client, admin):
    (deployment,) = client.get("/api/v1/admin/deployments", headers=admin).json()
    assert deployment["promoted_at"].endswith("+00:00") or deployment["promoted_at"].endswith("Z")
