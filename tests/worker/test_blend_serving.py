"""A serving worker holds several campaigns' LoRA checkpoints at once: it switches among them per batch
without reading a file, wears a blend at its weights, drops the least recently used for a new one, and a
promotion in one campaign never disturbs another's requests."""

import time

import numpy as np
import pytest

from core.db.session import session_scope
from core.refs import BASE_CHECKPOINT, Blend, CheckpointRef
from core.repo.checkpoints import promote
from core.schemas.generation import GenerationParams
from core.states import CheckpointKind
from tests.conftest import EMBEDDED_MODEL, apply_settings
from tests.helpers.checkpoints import register, trained_checkpoint
from tests.helpers.loop import fresh_model_server, generating_while_watched

REQUEST = GenerationParams(prompt="a blue square", seed=5, num_inference_steps=2, guidance_scale=4.0)


@pytest.fixture(scope="module")
def loras(tmp_path_factory):
    """Three different LoRA checkpoints of the shipped model (trained once for the module)."""
    root = tmp_path_factory.mktemp("loras")
    return [trained_checkpoint(EMBEDDED_MODEL, root / f"lora{steps}", steps=steps) for steps in (2, 3, 4)]


@pytest.fixture
def server(monkeypatch, tmp_path, embedded_model, loras):
    from core.db.migrate import upgrade

    apply_settings(monkeypatch, database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}", data_dir=tmp_path / "data",
                   base_model=embedded_model, adapters_held=2)  # fmt: skip
    upgrade()
    server = fresh_model_server(monkeypatch)
    server.warm()
    reads = []
    real_read = server.generator.read_lora
    monkeypatch.setattr(server.generator, "read_lora", lambda path: reads.append(path) or real_read(path))
    server.reads = reads
    return server


def refs(loras) -> list[CheckpointRef]:
    return [CheckpointRef(register(path, "lora"), CheckpointKind.lora, str(path)) for path in loras]


def alone(embedded_model, weights: dict) -> np.ndarray:
    """REQUEST's latents from a pipeline of its own wearing these LoRA directories at these weights."""
    from worker.generation.generator import Generator

    generator = Generator(embedded_model)
    for index, path in enumerate(weights):
        generator.pipe.load_lora_weights(str(path), adapter_name=f"a{index}")
    if weights:
        generator.pipe.set_adapters([f"a{i}" for i in range(len(weights))], adapter_weights=list(weights.values()))
    return generator.generate([REQUEST])[0].latents


def test_a_worker_switches_among_held_adapters_and_blends_them_without_reading_a_file(server, loras, embedded_model):
    a, b, _ = refs(loras)
    base = server.generate([REQUEST], BASE_CHECKPOINT)[0][0].latents
    made = {}
    for look in (a, b, BASE_CHECKPOINT, a, b):  # requests alternating between campaigns
        results, checkpoint_id = server.generate([REQUEST], look)
        assert checkpoint_id == look.id
        made.setdefault(look.id, []).append(results[0].latents)
    assert len(server.reads) == 2  # each LoRA read once; every later switch reads nothing
    for runs in made.values():
        assert all(np.array_equal(runs[0], run) for run in runs)  # each made alike, whatever came before
    assert np.array_equal(made[BASE_CHECKPOINT.id][0], base)  # the base exactly, with both adapters held
    assert np.allclose(made[a.id][0], alone(embedded_model, {loras[0]: 1.0}), atol=1e-5)
    assert not np.allclose(made[a.id][0], made[b.id][0], atol=1e-3)

    half = Blend(((a, 0.5), (b, 0.5)))
    results, checkpoint_id = server.generate([REQUEST], half)
    assert checkpoint_id is None and results[0].weights == f"blend:{a.id}=0.5,{b.id}=0.5"
    assert np.allclose(results[0].latents, alone(embedded_model, {loras[0]: 0.5, loras[1]: 0.5}), atol=1e-5)
    for other in (base, made[a.id][0], made[b.id][0]):
        assert not np.allclose(results[0].latents, other, atol=1e-3)
    assert np.array_equal(server.generate([REQUEST], Blend(((a, 1.0),)))[0][0].latents, made[a.id][0])
    assert len(server.reads) == 2


def test_the_least_recently_used_adapter_leaves_for_a_new_one(server, loras):
    a, b, c = refs(loras)
    first = {ref.id: server.generate([REQUEST], ref)[0][0].latents for ref in (a, b)}
    server.generate([REQUEST], a)  # a is now the more recently used
    server.generate([REQUEST], c)  # two held at most: b leaves
    assert list(server.held) == [a.id, c.id] and len(server.reads) == 3
    assert np.array_equal(server.generate([REQUEST], b)[0][0].latents, first[b.id])  # read again, the same
    assert list(server.held) == [c.id, b.id] and len(server.reads) == 4
    with pytest.raises(ValueError, match="holds at most 2"):
        server.generate([REQUEST], Blend(((a, 0.3), (b, 0.3), (c, 0.3))))
    full = CheckpointRef(a.id, CheckpointKind.full, a.path)
    with pytest.raises(ValueError, match="full fine-tune"):
        server.generate([REQUEST], Blend(((full, 0.5), (b, 0.5))))


def test_a_promotion_in_default_never_disturbs_another_campaigns_requests(server, loras):
    a, b, _ = refs(loras)  # a: default's next checkpoint; b: another campaign's serving adapter
    expected = server.generate([REQUEST], b)[0][0].latents
    with generating_while_watched(server, REQUEST, b) as (made, errors):
        with session_scope() as session:
            promote(session, a.id, by="test")
        for _ in range(200):
            if server.checkpoint_id == a.id:
                break
            time.sleep(0.05)
        served_default = server.generate([REQUEST])
    assert errors == [] and len(made) >= 2
    assert all(np.array_equal(latents, expected) for _, _, latents in made)  # b's weights throughout
    assert served_default[1] == a.id and set(server.held) == {a.id, b.id} and len(server.reads) == 2


def test_the_generate_task_makes_the_default_blend_and_records_it(server, loras):
    from sqlalchemy import update

    from core.db.models import Checkpoint, Generation
    from core.queue import sending_to
    from core.schemas.generation import GenerationRequest
    from core.services import blends, campaigns, generations, labelers
    from core.settings import get_settings
    from tests.services.conftest import Outbox
    from worker.tasks.generate import generate_image

    a, b, _ = refs(loras)
    campaigns.create("hands", "", True, "test")
    with session_scope() as session:
        session.execute(update(Checkpoint).where(Checkpoint.id == b.id).values(campaign_id=2))
    with session_scope() as session:
        promote(session, a.id, by="test")  # serves default
        promote(session, b.id, by="test")  # serves hands
    blends.set_default({"default": 0.5, "hands": 0.5})
    client, _ = labelers.create_labeler("client")
    with sending_to(Outbox()):
        asked = generations.request_generation(GenerationRequest(**REQUEST.model_dump()), client, get_settings())
    generate_image(asked.id)  # the task's body, in this process
    with session_scope() as session:
        made = session.get(Generation, asked.id)
        assert (made.status, made.checkpoint_id, made.error) == ("done", None, None)
        assert made.requested_adapters == {"default": 0.5, "hands": 0.5} and made.blend == {str(a.id): 0.5,
                                                                                           str(b.id): 0.5}  # fmt: skip
        image_path = made.image_path
    from PIL import Image

    from core.storage import media_file

    expected = server.generate([REQUEST], Blend(((a, 0.5), (b, 0.5))))[0][0].image
    assert np.array_equal(np.asarray(Image.open(media_file(get_settings(), image_path))), np.asarray(expected))


def test_a_blend_never_drops_its_own_parts_to_load_another(server, loras):
    a, b, c = refs(loras)
    for ref in (a, b):
        server.generate([REQUEST], ref)  # held, least recently used first: a, b
    server.generate([REQUEST], Blend(((c, 0.5), (a, 0.5))))  # loading c drops b, not a (the older, but a part)
    assert set(server.held) == {a.id, c.id} and len(server.reads) == 3
