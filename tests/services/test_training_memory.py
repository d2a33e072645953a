"""The memory estimate the API refuses rounds by: parameters read from safetensors headers, one set
of weight files per component, bytes per parameter by method and optimizer."""

import numpy as np
import pytest
from safetensors.numpy import save_file

from core.family import ModelFamily
from core.schemas.rounds import DPOConfig
from core.training_memory import component_parameters, estimate_gb, memory_refusal


@pytest.fixture
def model_dir(tmp_path):
    (tmp_path / "transformer").mkdir()
    (tmp_path / "text_encoder").mkdir()
    weights = {"a": np.zeros((1000, 600), np.float32), "b": np.zeros((400, 1000), np.float32)}  # 1.0M
    save_file(weights, tmp_path / "transformer" / "diffusion_pytorch_model.safetensors")
    half = {k: v.astype(np.float16) for k, v in weights.items()}  # the same weights as an fp16 variant
    save_file(half, tmp_path / "transformer" / "diffusion_pytorch_model.fp16.safetensors")
    save_file({"w": np.zeros((500, 1000), np.float16)}, tmp_path / "text_encoder" / "model.fp16.safetensors")
    return tmp_path


def test_parameters_come_from_one_set_of_files(model_dir):
    assert component_parameters(model_dir, "transformer") == 1_000_000  # not twice: the fp16 variant is skipped
    assert component_parameters(model_dir, "text_encoder") == 500_000  # a variant alone counts


def test_bytes_per_parameter_by_method_and_optimizer(model_dir):
    frozen = 500_000 * 2
    assert estimate_gb(model_dir, ModelFamily.flux, DPOConfig(method="lora")) == pytest.approx((2e6 + frozen) / 1e9)
    full_adamw = estimate_gb(model_dir, ModelFamily.flux, DPOConfig(method="full"))
    assert full_adamw == pytest.approx((18e6 + frozen) / 1e9)  # fp32 weights + grads + 2 moments + bf16 reference
    full_adafactor = estimate_gb(model_dir, ModelFamily.flux, DPOConfig(method="full", optimizer="adafactor"))
    assert full_adafactor == pytest.approx((10e6 + frozen) / 1e9)
    assert estimate_gb(model_dir, ModelFamily.sd, DPOConfig()) is None  # no unet/ here: nothing to estimate


def test_refusal_names_the_need_and_the_setting(model_dir):
    config = DPOConfig(method="full")
    assert memory_refusal(model_dir, ModelFamily.flux, config, None) is None  # unset: no check
    assert memory_refusal(model_dir, ModelFamily.flux, config, 1.0) is None
    refusal = memory_refusal(model_dir, ModelFamily.flux, config, 0.001)
    assert "a full round of this flux model needs at least 0.019 GB" in refusal and "DPOLOOP_TRAIN_MEMORY_GB" in refusal
    assert "method 'lora'" in refusal
