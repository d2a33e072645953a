import asyncio

import pytest

from core.db.models import Generation
from core.db.session import session_scope
from core.queue import GENERATE_IMAGE, QueueUnavailable, sending_to
from core.schemas.generation import GenerationRequest
from core.services import generations, labelers
from core.services.generations import UnusableCheckpoint
from core.states import GenerationPurpose, GenerationStatus
from tests.services.conftest import Outbox


def committed(name: str, args: list) -> bool:
    with session_scope() as session:
        return session.get(Generation, args[0]) is not None


def test_a_request_is_committed_before_its_task_is_sent(sqlite_db):
    labeler, _ = labelers.create_labeler("client")
    box = Outbox(visible=committed)
    with sending_to(box):
        generation = generations.request_generation(GenerationRequest(prompt="a red circle"), labeler, sqlite_db)
    assert box.sent == [(GENERATE_IMAGE, [generation.id])] and box.seen == [True]
    assert generation.status == GenerationStatus.queued
    assert generation.params["num_inference_steps"] == sqlite_db.default_steps  # the server's default


def test_a_request_while_the_broker_is_down_fails_its_row(sqlite_db, broker_down):
    labeler, _ = labelers.create_labeler("client")
    with pytest.raises(QueueUnavailable):
        generations.request_generation(GenerationRequest(prompt="a red circle"), labeler, sqlite_db)
    with session_scope() as session:
        (row,) = session.query(Generation).all()
        assert row.status == GenerationStatus.failed and "could not queue" in row.error


def test_pinning_a_missing_checkpoint_is_refused_before_anything_is_queued(sqlite_db, outbox):
    admin, _ = labelers.create_labeler("root", admin=True)
    with pytest.raises(UnusableCheckpoint):
        generations.request_generation(GenerationRequest(prompt="x", checkpoint_id=42), admin, sqlite_db)
    labeler, _ = labelers.create_labeler("client")
    with pytest.raises(generations.PinningForbidden):
        generations.request_generation(GenerationRequest(prompt="x", checkpoint_id=1), labeler, sqlite_db)
    assert outbox.sent == []


def test_labelers_read_only_their_own_requests(sqlite_db, outbox):
    alice, _ = labelers.create_labeler("alice")
    bob, _ = labelers.create_labeler("bob")
    admin, _ = labelers.create_labeler("root", admin=True)
    mine = generations.request_generation(GenerationRequest(prompt="a blue square"), alice, sqlite_db)
    assert generations.read_generation(mine.id, alice).id == mine.id
    assert generations.read_generation(mine.id, bob) is None
    assert generations.read_generation(mine.id, admin).id == mine.id


def test_a_worker_claims_finishes_and_a_waiter_sees_it(sqlite_db, outbox):
    alice, _ = labelers.create_labeler("alice")
    generation = generations.request_generation(GenerationRequest(prompt="a green star"), alice, sqlite_db)
    job = generations.claim_generation(generation.id)
    assert job.checkpoint is None and job.params.prompt == "a green star" and job.started.image_path.endswith(".png")
    generations.finish_generations([generation.id], 1, 12.0)
    done = asyncio.run(generations.wait_for(generation, timeout_s=2))
    assert done.status == GenerationStatus.done and done.checkpoint_id == 1
    assert generations.claim_generation(generation.id) is None  # a redelivery of finished work


def test_the_sweep_sends_again_only_after_its_commit(sqlite_db, monkeypatch):
    from datetime import UTC, datetime, timedelta

    alice, _ = labelers.create_labeler("alice")
    with sending_to(Outbox()):
        waiting = generations.request_generation(GenerationRequest(prompt="a red circle"), alice, sqlite_db)
    (pool_image,) = generations.start_generations([waiting_params(waiting)], GenerationPurpose.pool)
    with session_scope() as session:  # both are older than the requeue delay
        for row in session.query(Generation):
            row.created_at = datetime.now(UTC) - timedelta(minutes=5)

    def requeued(name: str, args: list) -> bool:
        with session_scope() as session:
            return session.get(Generation, args[0]).status == GenerationStatus.queued

    box = Outbox(visible=requeued)
    with sending_to(box):
        assert generations.sweep_stale() == {"requeued": 1, "failed": 1}
    assert box.sent == [(GENERATE_IMAGE, [waiting.id])] and box.seen == [True]
    assert generations.load(pool_image.id).status == GenerationStatus.failed


def waiting_params(generation: Generation):
    from core.repo.generations import params_of

    return params_of(generation)
