"""The generation path on tiny SD and SDXL pipelines built from configs (any model works the same)."""

import io

import numpy as np
import pytest
from pydantic import ValidationError

from core.schemas.generation import GenerationParams
from tests.helpers.tiny_pipelines import build_tiny_sd, build_tiny_sdxl
from worker.generation.generator import GenerationError, Generator
from worker.generation.loading import ModelLoadError


@pytest.fixture(scope="module")
def tiny_sd(tmp_path_factory):
    return build_tiny_sd(tmp_path_factory.mktemp("sd"))


@pytest.fixture(scope="module")
def generator(tiny_sd):
    return Generator(tiny_sd)


def params(**kw):
    return GenerationParams(**({"prompt": "a red circle", "seed": 3, "num_inference_steps": 3} | kw))


def pixels(result):
    return np.asarray(result.image)


def test_same_seed_gives_the_same_image_and_latents(generator):
    a, b = generator.generate([params()])[0], generator.generate([params()])[0]
    assert np.array_equal(pixels(a), pixels(b))
    assert np.array_equal(a.latents, b.latents)
    c = generator.generate([params(seed=4)])[0]
    assert not np.array_equal(a.latents, c.latents)


def test_a_batch_keeps_order_and_matches_single_runs(generator):
    requests = [params(seed=1), params(seed=2, prompt="a blue square"), params(seed=3, num_inference_steps=2)]
    batch = generator.generate(requests)
    assert [r.params.seed for r in batch] == [1, 2, 3]
    for request, result in zip(requests, batch, strict=True):
        single = generator.generate([request])[0]
        assert np.allclose(single.latents, result.latents, atol=1e-4)


def test_result_keeps_png_latents_and_parameters(generator):
    result = generator.generate([params(seed=None)])[0]
    assert result.params.seed is not None and result.params.width == 64 and result.params.height == 64
    assert result.latents.shape == (4, 16, 16) and result.latents.dtype == np.float32
    assert result.weights == "base"
    assert result.png_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert np.array_equal(np.load(io.BytesIO(result.latents_bytes())), result.latents)


def test_progress_callback_counts_every_step(generator):
    seen = []
    generator.generate(
        [params(num_inference_steps=3), params(num_inference_steps=2)], progress=lambda d, t: seen.append((d, t))
    )
    assert seen[-1] == (5, 5) and len(seen) == 5


def test_lora_overlay_changes_output_and_unloading_restores_it_bit_for_bit(generator, tmp_path):
    import torch
    from diffusers import StableDiffusionPipeline
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    before = generator.generate([params()])[0]
    unet = generator.pipe.unet
    torch.manual_seed(0)
    unet.add_adapter(LoraConfig(r=4, lora_alpha=4, init_lora_weights=False,
                                target_modules=["to_q", "to_k", "to_v", "to_out.0"]))  # fmt: skip
    StableDiffusionPipeline.save_lora_weights(tmp_path / "lora", unet_lora_layers=get_peft_model_state_dict(unet))
    generator.unload_overlays()

    generator.load_lora(tmp_path / "lora")
    with_lora = generator.generate([params()])[0]
    assert with_lora.weights.startswith("lora:")
    assert not np.array_equal(before.latents, with_lora.latents)
    generator.unload_overlays()
    after = generator.generate([params()])[0]
    assert np.array_equal(before.latents, after.latents) and np.array_equal(pixels(before), pixels(after))


def test_replacement_unet_overlay(generator, tmp_path):
    import torch

    before = generator.generate([params()])[0]
    unet = type(generator.pipe.unet).from_config(generator.pipe.unet.config)
    with torch.no_grad():
        for p in unet.parameters():
            p.normal_(0, 0.02)
    unet.save_pretrained(tmp_path / "unet")
    generator.load_denoiser(tmp_path)
    assert not np.array_equal(before.latents, generator.generate([params()])[0].latents)
    generator.unload_overlays()
    assert np.array_equal(before.latents, generator.generate([params()])[0].latents)


@pytest.mark.parametrize(
    "bad, reason",
    [
        ({"num_inference_steps": -1}, "greater than or equal to 1"),
        ({"num_inference_steps": 10_000}, "less than or equal to 200"),
        ({"width": 100_000}, "less than or equal to 2048"),
        ({"height": 65}, "multiple of 8"),
        ({"prompt": ""}, "at least 1 character"),
        ({"prompt": "   "}, "must not be blank"),
        ({"prompt": "x" * 5000}, "at most 1000 characters"),
        ({"guidance_scale": -2}, "greater than or equal to 0"),
        ({"seed": -5}, "greater than or equal to 0"),
        ({"colour": "red"}, "Extra inputs are not permitted"),
    ],
)
def test_bad_parameters_are_refused_with_a_reason(bad, reason):
    with pytest.raises(ValidationError, match=reason):
        params(**bad)


def test_sizes_the_model_cannot_make_are_refused(generator):
    with pytest.raises(GenerationError, match="at most 128×128"):
        generator.resolve(params(width=256))
    assert generator.resolve(params(width=128, height=32)).width == 128


def test_unknown_model_directory_is_a_clear_error(tmp_path):
    with pytest.raises(ModelLoadError, match="does not exist"):
        Generator(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="no model_index.json"):
        Generator(tmp_path / "empty")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "model_index.json").write_text('{"_class_name": "KandinskyPipeline"}')
    with pytest.raises(ModelLoadError, match="unsupported pipeline"):
        Generator(tmp_path / "other")


def test_sdxl_pipeline_generates(tmp_path):
    sdxl = Generator(build_tiny_sdxl(tmp_path))
    assert sdxl.family == "sdxl"
    results = sdxl.generate([params(seed=1), params(seed=2, prompt="a small blue square")])
    assert [r.image.size for r in results] == [(64, 64), (64, 64)]
    assert results[0].latents.shape == (4, 16, 16)
    again = sdxl.generate([params(seed=1), params(seed=2, prompt="a small blue square")])
    assert np.array_equal(again[0].latents, results[0].latents)
    # Alone rather than in a batch: the same image up to float rounding.
    assert np.allclose(sdxl.generate([params(seed=1)])[0].latents, results[0].latents, rtol=1e-4, atol=1e-3)
