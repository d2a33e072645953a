"""Diffusion-DPO training on tiny SD and SDXL pipelines built from configs."""

import math

import numpy as np
import pytest

from core.family import ModelFamily
from core.schemas.rounds import DPOConfig
from tests.helpers.pairs import separable_pairs as preference_pairs
from tests.helpers.tiny_pipelines import build_tiny_sd, build_tiny_sdxl
from worker.dpo.trainer import DPOTrainer, RefusedConfig
from worker.generation.generator import Generator


@pytest.fixture(scope="module")
def tiny_sd_dir(tmp_path_factory):
    return build_tiny_sd(tmp_path_factory.mktemp("sd"))


@pytest.mark.parametrize("method", ["lora", "full"])
def test_training_starts_at_ln2_and_learns_the_preference(tiny_sd_dir, method):
    generator = Generator(tiny_sd_dir)
    config = DPOConfig(method=method, beta=500, learning_rate=1e-3 if method == "lora" else 1e-4, steps=40,
                       batch_pairs=8, warmup_steps=0, eval_every=40)  # fmt: skip
    trainer = DPOTrainer(generator.pipe, generator.family, config)
    train, held_out = preference_pairs(64), preference_pairs(16, seed=1)
    first = trainer.train_step(trainer.sample_batches(train))
    assert first["loss"] == pytest.approx(math.log(2), abs=1e-6)  # model == reference at the start
    assert first["implicit_accuracy"] == 0.5
    seen = []
    final = trainer.fit(train, held_out, on_step=seen.append)
    assert len(seen) == 39 and seen[-1]["held_out_implicit_accuracy"] == final["held_out_implicit_accuracy"]
    assert final["held_out_implicit_accuracy"] > 0.7, final
    assert np.mean([m["loss"] for m in seen[-10:]]) < math.log(2)


def test_lora_checkpoint_loads_in_plain_diffusers_and_changes_the_output(tiny_sd_dir, tmp_path):
    generator = Generator(tiny_sd_dir)
    trainer = DPOTrainer(generator.pipe, generator.family, DPOConfig(steps=5, batch_pairs=4, beta=500))
    trainer.fit(preference_pairs(16), [])
    assert trainer.save(tmp_path / "ckpt") == "lora"
    assert (tmp_path / "ckpt" / "pytorch_lora_weights.safetensors").exists()

    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(tiny_sd_dir)
    pipe.load_lora_weights(tmp_path / "ckpt")  # plain diffusers reads it

    fresh = Generator(tiny_sd_dir)
    from core.schemas.generation import GenerationParams

    request = [GenerationParams(prompt="a red circle", seed=1, num_inference_steps=4)]
    before = fresh.generate(request)[0].latents
    fresh.load_lora(tmp_path / "ckpt")
    assert not np.allclose(before, fresh.generate(request)[0].latents)


def test_a_lora_trained_at_alpha_over_rank_serves_as_it_trained(tiny_sd_dir, tmp_path):
    """lora_alpha != lora_rank scales the adapter by alpha/r in training; the checkpoint says so, and every
    reader (plain diffusers, the generator, a held adapter) serves that scale, not 1."""
    from core.schemas.generation import GenerationParams

    request = [GenerationParams(prompt="a red circle", seed=1, num_inference_steps=4)]
    generator = Generator(tiny_sd_dir)
    config = DPOConfig(steps=5, batch_pairs=4, beta=500, learning_rate=1e-2, lora_rank=4, lora_alpha=16.0)
    trainer = DPOTrainer(generator.pipe, generator.family, config)
    trainer.fit(preference_pairs(16), [])
    trained = generator.generate(request)[0].latents  # the trainer's adapter is on this pipeline
    trainer.save(tmp_path / "ckpt")

    fresh = Generator(tiny_sd_dir)
    assert not np.allclose(fresh.generate(request)[0].latents, trained, atol=1e-4)
    fresh.load_lora(tmp_path / "ckpt")
    np.testing.assert_allclose(fresh.generate(request)[0].latents, trained, atol=1e-4)

    held = Generator(tiny_sd_dir)
    held.hold_lora(held.read_lora(tmp_path / "ckpt"), "a000001")
    held.use_loras({"a000001": 1.0}, "a")
    np.testing.assert_allclose(held.generate(request)[0].latents, trained, atol=1e-4)

    from diffusers import StableDiffusionPipeline

    plain = StableDiffusionPipeline.from_pretrained(tiny_sd_dir)
    plain.load_lora_weights(tmp_path / "ckpt")
    assert plain.unet.peft_config["default_0"].lora_alpha == 16


def test_a_round_continuing_a_lora_at_another_alpha_starts_where_its_parent_serves(tiny_sd_dir, tmp_path):
    """alpha/r scales B·A: a child adapter at another alpha than its parent's starts from the update its
    parent serves (its B rescaled), not from the parent's weights at the new scale."""
    from core.refs import BASE_CHECKPOINT, CheckpointRef
    from core.schemas.generation import GenerationParams
    from core.states import CheckpointKind
    from worker.checkpoint_io import write_atomically
    from worker.rounds.model import build_trainer

    request = [GenerationParams(prompt="a red circle", seed=1, num_inference_steps=4)]
    parent_config = DPOConfig(steps=5, batch_pairs=4, beta=500, learning_rate=1e-2, lora_rank=4, lora_alpha=16.0)
    generator = Generator(tiny_sd_dir)
    trainer = DPOTrainer(generator.pipe, generator.family, parent_config)
    trainer.fit(preference_pairs(16), [])
    served = generator.generate(request)[0].latents
    folder = write_atomically(tmp_path / "parent", trainer.save, {"config": parent_config.model_dump()})
    parent = CheckpointRef(id=2, kind=CheckpointKind.lora, path=str(folder))

    for alpha in (4.0, 16.0):
        child = Generator(tiny_sd_dir)
        config = DPOConfig(steps=1, batch_pairs=4, beta=500, lora_rank=4, lora_alpha=alpha)
        build_trainer(child.pipe, child.family, config, parent, BASE_CHECKPOINT)
        np.testing.assert_allclose(child.generate(request)[0].latents, served, atol=1e-4, err_msg=f"alpha {alpha}")
    with pytest.raises(RefusedConfig, match="rank 4, this round asks for 8"):
        build_trainer(child.pipe, child.family, DPOConfig(lora_rank=8), parent, BASE_CHECKPOINT)

    # A file written without its adapter's config (older checkpoints) serves at scale 1, whatever its card's
    # alpha: a child starts from that, the update people saw, not the one the parent trained.
    from safetensors.torch import load_file, save_file

    from worker.generation.lora_file import WEIGHTS

    save_file(load_file(str(folder / WEIGHTS)), str(folder / WEIGHTS))  # the same weights, no metadata
    old = Generator(tiny_sd_dir)
    old.load_lora(folder)
    served_old = old.generate(request)[0].latents
    assert not np.allclose(served_old, served, atol=1e-4)
    for alpha in (4.0, 16.0):
        child = Generator(tiny_sd_dir)
        config = DPOConfig(steps=1, batch_pairs=4, beta=500, lora_rank=4, lora_alpha=alpha)
        trainer = build_trainer(child.pipe, child.family, config, parent, BASE_CHECKPOINT)
        np.testing.assert_allclose(child.generate(request)[0].latents, served_old, atol=1e-4, err_msg=f"alpha {alpha}")
        # The parent as the frozen reference (DPOLOOP_ROUND_REFERENCE=active) is worn as it serves too:
        # model == reference at the start.
        trainer = build_trainer(Generator(tiny_sd_dir).pipe, child.family, config, parent, parent)
        first = trainer.train_step(trainer.sample_batches(preference_pairs(8)))
        assert first["loss"] == pytest.approx(math.log(2), abs=1e-6), f"alpha {alpha}"


def test_full_checkpoint_is_a_unet_directory(tiny_sd_dir, tmp_path):
    generator = Generator(tiny_sd_dir)
    trainer = DPOTrainer(generator.pipe, generator.family, DPOConfig(method="full", steps=2, batch_pairs=2))
    trainer.fit(preference_pairs(4), [])
    assert trainer.save(tmp_path / "ckpt") == "full"
    from diffusers import UNet2DConditionModel

    assert UNet2DConditionModel.from_pretrained(tmp_path / "ckpt" / "unet").config.sample_size == 16


def test_sdxl_conditioning_trains(tmp_path):
    generator = Generator(build_tiny_sdxl(tmp_path))
    config = DPOConfig(steps=3, batch_pairs=2, beta=500, empty_prompt_share=0.5)
    trainer = DPOTrainer(generator.pipe, ModelFamily.sdxl, config)
    final = trainer.fit(preference_pairs(8), preference_pairs(4, seed=2))
    assert set(final) >= {"held_out_implicit_accuracy", "held_out_winner_drift"}
    trainer.save(tmp_path / "ckpt")
    generator.unload_overlays()
    fresh = Generator(tmp_path / "sdxl")
    fresh.load_lora(tmp_path / "ckpt")


def test_refusals(tiny_sd_dir):
    generator = Generator(tiny_sd_dir)
    with pytest.raises(RefusedConfig, match="do not fit this unet"):
        DPOTrainer(generator.pipe, ModelFamily.sd, DPOConfig(lora_targets=["no_such_module"]))
    generator = Generator(tiny_sd_dir)
    trainer = DPOTrainer(generator.pipe, ModelFamily.sd, DPOConfig(steps=1))
    with pytest.raises(RefusedConfig, match="no preference pairs"):
        trainer.fit([], [])


def test_v_prediction_models_train_on_the_velocity(tiny_sd_dir, tmp_path):
    """SD 2.x (and the embedded model) predict v: the target must be the velocity, not the noise."""
    from diffusers import DDIMScheduler

    generator = Generator(tiny_sd_dir)
    generator.pipe.scheduler = DDIMScheduler.from_config(
        generator.pipe.scheduler.config, prediction_type="v_prediction"
    )
    trainer = DPOTrainer(generator.pipe, ModelFamily.sd, DPOConfig(steps=30, batch_pairs=8, beta=500, warmup_steps=0))
    assert trainer.noising.kind == "v_prediction"
    final = trainer.fit(preference_pairs(32), preference_pairs(16, seed=3))
    assert final["held_out_implicit_accuracy"] > 0.6, final


def test_unknown_prediction_types_are_refused(tiny_sd_dir):
    from diffusers import DDIMScheduler

    generator = Generator(tiny_sd_dir)
    generator.pipe.scheduler = DDIMScheduler.from_config(generator.pipe.scheduler.config, prediction_type="sample")
    with pytest.raises(RefusedConfig, match="'sample' is not supported"):
        DPOTrainer(generator.pipe, ModelFamily.sd, DPOConfig(steps=1))


def test_ema_saves_the_moving_average_of_the_trained_weights(tiny_sd_dir):
    """With ema_decay the round evaluates and saves the average (warmed up as diffusers' EMAModel:
    step 1 copied, then after step k decay min(decay, k/(k+9))); training itself is unchanged."""
    import torch

    def trainer_with(ema_decay: float) -> DPOTrainer:
        generator = Generator(tiny_sd_dir)
        torch.manual_seed(0)  # the same LoRA initialisation for both
        config = DPOConfig(beta=500, learning_rate=1e-2, steps=5, batch_pairs=4, warmup_steps=0, ema_decay=ema_decay)
        return DPOTrainer(generator.pipe, generator.family, config)

    plain, averaged = trainer_with(0.0), trainer_with(0.5)
    pairs = preference_pairs(16)
    expected = [p.detach().clone() for p in plain.params]
    for n in range(1, 6):
        losses = [t.train_step(t.sample_batches(pairs))["loss"] for t in (plain, averaged)]
        assert losses[0] == pytest.approx(losses[1], abs=1e-6)  # the average does not steer training
        decay = 0.0 if n == 1 else min(0.5, n / (n + 9))
        expected = [decay * e + (1 - decay) * p.detach() for e, p in zip(expected, plain.params, strict=True)]
    last = [p.detach().clone() for p in averaged.params]
    with averaged.averaged_weights():
        assert all(torch.allclose(p, e, atol=1e-6) for p, e in zip(averaged.params, expected, strict=True))
    assert all(torch.equal(p, q) for p, q in zip(averaged.params, last, strict=True))  # training's weights back
    averaged.fit(pairs, [])  # steps are done: it only puts the average on for saving
    assert all(torch.allclose(p, e, atol=1e-6) for p, e in zip(averaged.params, expected, strict=True))
    assert not all(torch.allclose(p, q) for p, q in zip(averaged.params, last, strict=True))


def test_held_out_evaluation_scores_each_pair_over_spread_draws_for_the_gates_intervals(tiny_sd_dir):
    """Each held-out pair is scored under held_out_draws draws at timesteps spread over the training
    draw's quantiles; its draws are averaged into one value per pair, which the gate's intervals take."""
    from worker.rounds.gate import GateThresholds, apply_gate

    generator = Generator(tiny_sd_dir)
    config = DPOConfig(beta=500, learning_rate=1e-3, steps=20, batch_pairs=8, warmup_steps=0, eval_every=10)
    trainer = DPOTrainer(generator.pipe, generator.family, config)
    trainer.held_out_draws = 8
    held_out = preference_pairs(12, seed=1)
    seen_timesteps = []
    noised = trainer.noising.noised

    def noised_and_seen(x0, noise, timesteps):
        seen_timesteps.extend(timesteps.tolist())
        return noised(x0, noise, timesteps)

    curve = []
    final = trainer.fit(preference_pairs(32), held_out, on_step=curve.append)
    # The curve's point before the last step feeds no gate: 4 draws; the last step's is the final one.
    assert [m.get("held_out_draws") for m in curve if "held_out_pairs" in m] == [4, 8]
    assert curve[-1]["held_out_implicit_accuracy"] == final["held_out_implicit_accuracy"]
    trainer.noising.noised = noised_and_seen
    again = trainer.evaluate(held_out)
    assert again == final  # fixed draws: the same weights measure the same
    assert final["held_out_pairs"] == 12 and final["held_out_draws"] == 8
    by_pair, drift = final["held_out_implicit_accuracy_by_pair"], final["held_out_winner_drift_by_pair"]
    assert len(by_pair) == len(drift) == 12
    assert all((16 * a).is_integer() and 0 <= a <= 1 for a in by_pair)  # eight draws, a tie one half
    assert final["held_out_implicit_accuracy"] == pytest.approx(np.mean(by_pair))
    assert final["held_out_winner_drift"] == pytest.approx(np.mean(drift))
    # Noise levels from nearly clean to nearly pure noise, one per draw: the midpoints of 8 equal slices of 1,000.
    assert sorted(set(seen_timesteps)) == [62, 187, 312, 437, 562, 687, 812, 937]
    rules = apply_gate(final | {"final_loss": 0.5}, GateThresholds(0.55, 0.1, 0.05)).rules
    assert rules["accuracy"]["pairs"] == rules["winner_drift"]["pairs"] == 12
    assert rules["accuracy"]["low"] < final["held_out_implicit_accuracy"] < rules["accuracy"]["high"]
    trainer.held_out_draws = 2
    assert all((4 * a).is_integer() for a in trainer.evaluate(held_out)["held_out_implicit_accuracy_by_pair"])


def test_noise_draws_average_the_loss_over_several_draws_of_each_pair(tiny_sd_dir):
    import torch

    generator = Generator(tiny_sd_dir)
    config = DPOConfig(beta=500, learning_rate=1e-3, batch_pairs=4, noise_draws=3, warmup_steps=0)
    trainer = DPOTrainer(generator.pipe, generator.family, config)
    pairs = preference_pairs(16)
    for _ in range(3):  # away from the reference, where every draw's loss is ln 2
        trainer.train_step(trainer.sample_batches(pairs))
    batch, step = trainer.sample_batches(pairs), trainer.step_count
    with torch.no_grad():
        losses = [trainer.terms(batch, [trainer.pair_seed(step, i, d) for i in range(4)]).loss.item() for d in range(3)]
    assert max(losses) - min(losses) > 1e-6  # the draws differ
    assert trainer.pair_seed(step, 0, 0) == trainer.pair_seed(step, 0)  # draw 0 is the one-draw seed
    assert trainer.train_step(batch)["loss"] == pytest.approx(float(np.mean(losses)), rel=1e-4)
