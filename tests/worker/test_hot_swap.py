"""Hot swap in a serving process: a promotion reaches the model within about a second, no request
fails or sees half-loaded weights, and a checkpoint that cannot load is marked broken and rolled back."""

import time

import numpy as np
import pytest
from sqlalchemy import select

from core.db.models import Checkpoint, Deployment
from core.db.session import session_scope
from core.repo.checkpoints import active_checkpoint_id, promote
from core.schemas.generation import GenerationParams
from tests.conftest import apply_settings
from tests.helpers.checkpoints import register, trained_checkpoint
from tests.helpers.loop import fresh_model_server, generating_while_watched

REQUEST = GenerationParams(prompt="a blue square", seed=5, num_inference_steps=6, guidance_scale=4.0)


@pytest.fixture
def server(monkeypatch, tmp_path, embedded_model):
    from core.db.migrate import upgrade

    apply_settings(monkeypatch, database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}", data_dir=tmp_path / "data",
                   base_model=embedded_model)  # fmt: skip
    upgrade()
    server = fresh_model_server(monkeypatch)
    server.warm()
    return server


def promote_now(checkpoint_id: int) -> None:
    with session_scope() as session:
        promote(session, checkpoint_id, by="test")


@pytest.mark.serial  # a swap-time budget: run alone on the machine
def test_a_stream_of_generations_spans_lora_and_full_promotions_without_a_failure(server, tmp_path, embedded_model):
    lora = register(trained_checkpoint(embedded_model, tmp_path / "lora"), "lora")
    full = register(trained_checkpoint(embedded_model, tmp_path / "full", method="full"), "full")
    base_latents = server.generate([REQUEST])[0][0].latents

    swap_times = {}
    with generating_while_watched(server, REQUEST) as (served, errors):
        for checkpoint_id in (lora, full, 1):
            time.sleep(0.5)
            promoted_at = time.monotonic()
            promote_now(checkpoint_id)
            deadline = promoted_at + 10
            while (not any(c == checkpoint_id and t > promoted_at for t, c, _ in served)
                   and time.monotonic() < deadline):  # fmt: skip
                time.sleep(0.02)
            swap_times[checkpoint_id] = time.monotonic() - promoted_at

    assert errors == []
    order = [c for _, c, _ in served]
    runs = [c for i, c in enumerate(order) if i == 0 or order[i - 1] != c]
    assert runs == [1, lora, full, 1], runs  # each generation made by exactly one checkpoint, in promotion order
    assert all(t < 3.0 for t in swap_times.values()), swap_times  # promote → first new image, with slack for CI
    by_checkpoint = {c: lat for _, c, lat in served}
    assert not np.array_equal(by_checkpoint[lora], base_latents)
    assert not np.array_equal(by_checkpoint[full], base_latents)
    assert np.array_equal(by_checkpoint[1], base_latents)  # back on the base, exactly


def test_a_checkpoint_that_fails_to_load_is_marked_broken_and_rolled_back(server, tmp_path, embedded_model,
                                                                          monkeypatch):
    import worker.serving

    monkeypatch.setattr(worker.serving, "RETRY_AFTER_S", 0.0)
    good = register(trained_checkpoint(embedded_model, tmp_path / "good"), "lora")
    promote_now(good)
    server.sync_to_active()
    assert server.checkpoint_id == good
    bad_dir = tmp_path / "bad"
    bad_dir.mkdir()
    (bad_dir / "pytorch_lora_weights.safetensors").write_bytes(b"not safetensors at all")
    bad = register(bad_dir, "lora")
    promote_now(bad)

    for attempt in range(worker.serving.LOAD_ATTEMPTS):
        with session_scope() as session:
            assert session.get(Checkpoint, bad).status == "ready", attempt  # a failure may be passing
        server.sync_to_active()
    assert server.checkpoint_id == good  # never swapped in
    with session_scope() as session:
        row = session.get(Checkpoint, bad)
        assert row.status == "broken" and "failed to load" in row.status_reason
        assert active_checkpoint_id(session) == good  # automatic rollback to what served before
        assert (
            session.scalars(select(Deployment.reason).order_by(Deployment.id.desc()))
            .first()
            .startswith("automatic rollback")
        )
    results, checkpoint_id = server.generate([REQUEST])
    assert checkpoint_id == good and results[0].latents.shape == (4, 16, 16)


def test_a_passing_load_failure_is_retried_not_marked_broken(server, tmp_path, embedded_model, monkeypatch):
    import worker.serving

    monkeypatch.setattr(worker.serving, "RETRY_AFTER_S", 0.2)
    lora = register(trained_checkpoint(embedded_model, tmp_path / "lora"), "lora")
    real_read, failures = server.generator.read_lora, []

    def out_of_memory_once(path):
        if not failures:
            failures.append(path)
            raise MemoryError("out of memory (this time)")
        return real_read(path)

    monkeypatch.setattr(server.generator, "read_lora", out_of_memory_once)
    promote_now(lora)
    server.sync_to_active()
    assert server.checkpoint_id == 1 and failures  # failed once; the base still serves
    server.sync_to_active()
    assert server.checkpoint_id == 1  # within the backoff: not tried again yet
    time.sleep(0.25)
    server.sync_to_active()
    assert server.checkpoint_id == lora
    with session_scope() as session:
        assert session.get(Checkpoint, lora).status == "ready"


def test_a_broken_base_is_never_the_rollback_target(server, tmp_path, embedded_model):
    from core.repo.checkpoints import mark_broken
    from core.services import checkpoints

    lora = register(trained_checkpoint(embedded_model, tmp_path / "lora"), "lora")
    promote_now(lora)
    with session_scope() as session:
        mark_broken(session, 1, "failed to load: test")
        mark_broken(session, lora, "failed to load: test")
        assert active_checkpoint_id(session) == lora  # nothing left to roll back to: it stays, loudly
    checkpoints.clear_broken(1, by="admin")
    with session_scope() as session:
        assert session.get(Checkpoint, 1).status == "ready"
