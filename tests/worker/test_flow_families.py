"""SD3 and FLUX (rectified-flow transformers) on tiny pipelines built from configs: generation, the
DPO objective in its flow-matching form, LoRA checkpoints that plain diffusers reads back, and the
loop in-process (pool fill, votes, a round, promotion, hot swap)."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from core.schemas.generation import GenerationParams
from core.schemas.rounds import DPOConfig
from tests.helpers.pairs import separable_pairs
from tests.helpers.tiny_pipelines import build_tiny_flux, build_tiny_sd3
from worker.dpo.trainer import DPOTrainer
from worker.generation.generator import Generator

BUILDERS = {"sd3": build_tiny_sd3, "flux": build_tiny_flux}
FAMILIES = sorted(BUILDERS)


@pytest.fixture(scope="module")
def pipelines(tmp_path_factory) -> dict[str, Path]:
    return {name: build(tmp_path_factory.mktemp(name)) for name, build in BUILDERS.items()}


def params(seed: int = 1, prompt: str = "a red circle", steps: int = 3) -> GenerationParams:
    return GenerationParams(prompt=prompt, seed=seed, num_inference_steps=steps, guidance_scale=3.5)


class Brighter:
    """A labeler of noise images that prefers the brighter one: decisive, and learnable."""

    def choose(self, left, right, prompt: str) -> str:
        return "left" if np.asarray(left).mean() >= np.asarray(right).mean() else "right"


@pytest.mark.parametrize("family", FAMILIES)
def test_generates_seeded_images_in_the_stored_latent_layout(pipelines, family):
    generator = Generator(pipelines[family])
    assert generator.family == family and generator.default_size == 64
    first = generator.generate([params(seed=1), params(seed=2, prompt="a small blue square")])
    assert [r.image.size for r in first] == [(64, 64), (64, 64)]
    assert [r.latents.shape for r in first] == [(4, 16, 16)] * 2  # FLUX's packed tokens are unpacked
    assert not np.allclose(first[0].latents, first[1].latents)
    again = generator.generate([params(seed=1)])[0]
    assert np.allclose(again.latents, first[0].latents, atol=1e-5)


def test_flux_refuses_sizes_its_packing_cannot_take(pipelines):
    from worker.generation.generator import GenerationError

    generator = Generator(pipelines["flux"])
    with pytest.raises(GenerationError, match="multiples of 8"):
        generator.resolve(params().model_copy(update={"width": 60, "height": 64}))


@pytest.mark.parametrize("family", FAMILIES)
def test_flow_dpo_starts_at_ln2_and_learns_a_separable_preference(pipelines, family):
    generator = Generator(pipelines[family])
    config = DPOConfig(beta=200, learning_rate=2e-3, steps=40, batch_pairs=8, warmup_steps=0, eval_every=40)
    trainer = DPOTrainer(generator.pipe, generator.family, config)
    first = trainer.train_step(trainer.sample_batches(separable_pairs(64)))
    assert first["loss"] == pytest.approx(math.log(2), abs=1e-6)  # model == reference at the start
    seen = []
    final = trainer.fit(separable_pairs(64), separable_pairs(16, seed=1), on_step=seen.append)
    assert final["held_out_implicit_accuracy"] > 0.7, final
    assert np.mean([m["loss"] for m in seen[-10:]]) < math.log(2)
    # The reward the uncertain pairing ranks by, at its fixed quantile timesteps: the same preference.
    from worker.dpo.implicit_reward import implicit_rewards

    held_out = separable_pairs(16, seed=1)
    rewards = implicit_rewards(generator, [p.prompt for p in held_out] * 2,
                               [p.winner for p in held_out] + [p.loser for p in held_out])  # fmt: skip
    assert (rewards[:16] > rewards[16:]).mean() >= 0.75, rewards


def test_flow_noising_is_the_rectified_flow_and_draws_the_shifted_logit_normal(pipelines):
    from diffusers import FlowMatchEulerDiscreteScheduler

    from worker.dpo.noising import FlowNoising

    scheduler = FlowMatchEulerDiscreteScheduler.from_pretrained(pipelines["sd3"] / "scheduler")
    noising = FlowNoising(scheduler.config)
    t = noising.timesteps(20_000, torch.Generator().manual_seed(0))
    sigma = t / 1000
    # u ~ logit-normal(0, 1) has median 1/2; SD3's shift 3 maps it to 3·0.5 / (1 + 2·0.5) = 0.75.
    assert float(sigma.median()) == pytest.approx(0.75, abs=0.01)
    x0, noise = torch.ones(2, 4, 2, 2), torch.zeros(2, 4, 2, 2)
    half = torch.tensor([500.0, 250.0])
    noisy = noising.noised(x0, noise, half)
    assert torch.allclose(noisy[0], torch.full((4, 2, 2), 0.5))
    assert torch.allclose(noisy[1], torch.full((4, 2, 2), 0.75))
    assert torch.equal(noising.target(x0, noise, half), noise - x0)


@pytest.mark.parametrize("family", FAMILIES)
def test_lora_checkpoint_reads_back_in_plain_diffusers_with_identical_images(pipelines, family, tmp_path):
    from worker.generation.loading import pipeline_class

    generator = Generator(pipelines[family])
    trainer = DPOTrainer(generator.pipe, generator.family, DPOConfig(steps=4, batch_pairs=4, beta=200))
    trainer.fit(separable_pairs(16), [])
    assert trainer.save(tmp_path / "ckpt") == "lora"

    ours = Generator(pipelines[family])
    base = ours.generate([params()])[0].latents
    ours.load_lora(tmp_path / "ckpt")
    tuned = ours.generate([params()])[0]
    assert not np.allclose(base, tuned.latents)

    plain = pipeline_class(generator.family).from_pretrained(pipelines[family])
    plain.load_lora_weights(tmp_path / "ckpt")  # the pipeline's own loader reads it
    plain.set_progress_bar_config(disable=True)
    p = params()
    image = plain(prompt=[p.prompt], num_inference_steps=p.num_inference_steps, guidance_scale=p.guidance_scale,
                  width=64, height=64, generator=[torch.Generator("cpu").manual_seed(p.seed)]).images[0]  # fmt: skip
    assert np.abs(np.asarray(image, dtype=np.int16) - np.asarray(tuned.image, dtype=np.int16)).max() <= 1

    ours.unload_overlays()
    assert np.array_equal(ours.generate([params()])[0].latents, base)


@pytest.mark.parametrize("family", FAMILIES)
def test_full_fine_tune_saves_a_transformer_the_server_can_wear(pipelines, family, tmp_path):
    generator = Generator(pipelines[family])
    trainer = DPOTrainer(generator.pipe, generator.family, DPOConfig(method="full", steps=2, batch_pairs=2,
                                                                     learning_rate=1e-3))  # fmt: skip
    trainer.fit(separable_pairs(4), [])
    assert trainer.save(tmp_path / "ckpt") == "full"
    assert (tmp_path / "ckpt" / "transformer" / "config.json").is_file()
    served = Generator(pipelines[family])
    base = served.generate([params()])[0].latents
    served.load_denoiser(tmp_path / "ckpt")
    assert served.weights.startswith("transformer:")
    assert not np.allclose(base, served.generate([params()])[0].latents)
    served.unload_overlays()
    assert np.array_equal(base, served.generate([params()])[0].latents)


@pytest.mark.parametrize("family", FAMILIES)
def test_the_loop_in_process_fills_the_pool_trains_a_round_and_hot_swaps(pipelines, family, monkeypatch, tmp_path):
    from core.db.migrate import upgrade
    from core.db.session import session_scope
    from core.repo.checkpoints import active_checkpoint_id, promote
    from core.services.prompts import seed_shipped_prompts
    from tests.conftest import apply_settings
    from tests.helpers.rounds import QUICK, labeled_pool, round_row, start
    from worker.rounds.run import run_round
    from worker.serving import model_server

    apply_settings(monkeypatch, database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}", data_dir=tmp_path / "data",
                   base_model=pipelines[family], pool_target=8, pool_batch=4, default_steps=4, gate_eval_images=2,
                   gate_min_accuracy=0.0, gate_max_winner_drift=10, gate_max_judge_drop=1, eval_seeds_per_prompt=0,
                   gold_rate=0, promotion="gate", auto_promote=False)  # fmt: skip
    upgrade()
    seed_shipped_prompts()
    from tests.helpers.loop import fresh_model_server

    server = fresh_model_server(monkeypatch)
    labeled_pool(8, policy=Brighter())  # the real pool task renders the pairs with the family's pipeline
    # The family defaults accumulate 8–16 micro-batches and checkpoint activations: a GPU's settings, not a test's.
    round_id = start(QUICK | {"beta": 200, "grad_accumulation": 1, "gradient_checkpointing": False})
    run_round(round_id)
    row = round_row(round_id)
    assert row.state == "succeeded", row.error
    assert row.counts["train_pairs"] + row.counts["held_out_pairs"] == 8

    request = params(steps=4)
    before = server.generate([request])[0][0].latents
    with session_scope() as session:
        promote(session, row.checkpoint_id, by="test")
        assert active_checkpoint_id(session) == row.checkpoint_id
    server.sync_to_active()  # the hot swap a promotion triggers in a serving worker
    results, served_by = server.generate([request])
    assert served_by == row.checkpoint_id and results[0].weights.startswith("lora:")
    assert not np.allclose(before, results[0].latents)
    assert model_server() is server


@pytest.mark.parametrize("family", FAMILIES)
def test_imported_images_encode_to_the_latents_generation_stores(pipelines, family):
    from PIL import Image

    from worker.imports.encode import LatentEncoder

    generator = Generator(pipelines[family])
    stored = generator.generate([params()])[0]
    encoder = LatentEncoder(pipelines[family])
    assert encoder.size == generator.default_size and encoder.shape == stored.latents.shape
    latents = encoder.encode([Image.new("RGB", (96, 80), (200, 30, 30))])
    assert latents.shape == (1, *stored.latents.shape)
    vae = generator.pipe.vae
    pixels = encoder.pixels(Image.new("RGB", (96, 80), (200, 30, 30)))[None]
    with torch.no_grad():
        mode = vae.encode(pixels).latent_dist.mode()
    expected = (mode - vae.config.shift_factor) * vae.config.scaling_factor  # the shift SD3 and FLUX use
    assert np.allclose(latents, expected.numpy(), atol=1e-5)
