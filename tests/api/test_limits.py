"""One client cannot flood generation or stall the loop: per-token rate limits, a cap on pending
generations, housekeeping on queues of its own, and waits that do not hammer the database."""

from __future__ import annotations

import asyncio

from fastapi.testclient import TestClient

from tests.api.conftest import auth
from tests.conftest import apply_settings


def generate(client, who):
    return client.post("/api/v1/generations", headers=auth(who), json={"prompt": "a red circle"})


def fresh_client(monkeypatch, **settings):
    from app.api.main import create_app

    apply_settings(monkeypatch, **settings)
    return TestClient(create_app())


def test_a_token_over_its_rate_limit_gets_429_with_retry_after(client, alice, bob, monkeypatch):
    with fresh_client(monkeypatch, generation_rate_limit="2/minute") as limited:
        assert [generate(limited, alice).status_code for _ in range(2)] == [202, 202]
        refused = generate(limited, alice)
        assert refused.status_code == 429 and 0 < int(refused.headers["Retry-After"]) <= 60
        assert "2/minute" in refused.json()["detail"]
        assert generate(limited, bob).status_code == 202  # per token


def test_pending_generations_are_capped_per_token(client, alice, bob, monkeypatch):
    with fresh_client(monkeypatch, max_pending_generations=3) as capped:
        assert [generate(capped, alice).status_code for _ in range(3)] == [202] * 3  # no worker: all stay queued
        refused = generate(capped, alice)
        assert refused.status_code == 429 and refused.headers["Retry-After"] == "5"
        assert generate(capped, bob).status_code == 202


def test_housekeeping_and_the_pool_do_not_wait_behind_client_requests():
    from core.queue import (
        CHECK_ROUNDS,
        FILL_POOL,
        GENERATE_IMAGE,
        GENERATE_WORKER_QUEUES,
        SWEEP,
        TRAIN_ROUND,
        celery_app,
    )

    def queue_of(task: str) -> str:
        return celery_app.amqp.router.route({}, task)["queue"].name

    assert queue_of(GENERATE_IMAGE) == "generate" and queue_of(FILL_POOL) == "pool"
    assert queue_of(CHECK_ROUNDS) == queue_of(SWEEP) == "housekeeping" and queue_of(TRAIN_ROUND) == "train"
    assert set(GENERATE_WORKER_QUEUES.split(",")) == {"generate", "pool", "housekeeping"}


def test_a_waiting_request_polls_less_and_less(monkeypatch):
    from core.services import generations
    from core.states import GenerationStatus

    class Pending:
        id, status = 1, GenerationStatus.queued

    loads = []
    monkeypatch.setattr(generations, "load", lambda generation_id: loads.append(generation_id) or Pending())
    asyncio.run(generations.wait_for(Pending(), timeout_s=3.0))
    assert 5 <= len(loads) <= 12  # every 50 ms would have been 60
