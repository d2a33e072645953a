"""Will a round fit the train worker's accelerator? An estimate from the base model's files (no torch),
so the API can refuse a round a family cannot run (a full fine-tune of FLUX's 12B transformer on
one 80 GB card) before it is queued, instead of the worker failing with out-of-memory an hour later.

The denoiser's parameters are counted from its safetensors headers (8-byte length, then JSON with
each tensor's dtype and shape). Bytes per trained parameter, as worker/dpo/trainer.py keeps them:
- full: fp32 weights + fp32 gradients + optimizer state (AdamW: two fp32 moments; Adafactor:
  factored, ~0) + the frozen reference copy in the model's dtype (+ an fp32 moving average with ema_decay);
- lora: the model once in its dtype (the reference is the same weights with adapters off).
Text encoders and VAE sit beside it in their dtype. Activations are not counted: the estimate is a
floor, and a round refused by it could never run.
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

from core.family import ModelFamily
from core.schemas.rounds import DPOConfig

MODEL_BYTES_ON_ACCELERATOR = 2  # bf16/fp16 on a GPU
FROZEN_COMPONENTS = ("vae", "text_encoder", "text_encoder_2", "text_encoder_3")


def safetensors_parameters(path: Path) -> int:
    """The number of values stored in a .safetensors file, from its header only."""
    with path.open("rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
    return sum(math.prod(t["shape"]) for name, t in header.items() if name != "__metadata__")


def component_parameters(model_dir: Path, component: str) -> int:
    """A component's parameters, counting one set of weight files: repositories often ship fp32 files
    and a variant (`….fp16.safetensors`) side by side; the variant counts only when it is alone."""
    files = sorted((model_dir / component).glob("*.safetensors"))
    plain = [f for f in files if "." not in f.name.removesuffix(".safetensors")]
    return sum(safetensors_parameters(p) for p in (plain or files))


def estimate_gb(model_dir: Path, family: ModelFamily, config: DPOConfig) -> float | None:
    """The memory a round needs at least, in GB; None when the model's files are not local."""
    if not (model_dir / family.denoiser).is_dir():
        return None
    trained = component_parameters(model_dir, family.denoiser)
    frozen = sum(component_parameters(model_dir, c) for c in FROZEN_COMPONENTS)
    if config.method == "full":
        optimizer = 8 if config.optimizer == "adamw" else 0
        per_param = 4 + 4 + optimizer + MODEL_BYTES_ON_ACCELERATOR + (4 if config.ema_decay else 0)
    else:
        per_param = MODEL_BYTES_ON_ACCELERATOR
    return (trained * per_param + frozen * MODEL_BYTES_ON_ACCELERATOR) / 1e9


def memory_refusal(model_dir: Path, family: ModelFamily, config: DPOConfig, memory_gb: float | None) -> str | None:
    """Why this round cannot fit in memory_gb (per training process), or None."""
    if memory_gb is None:
        return None
    need = estimate_gb(model_dir, family, config)
    if need is None or need <= memory_gb:
        return None
    hint = " (train a LoRA instead: method 'lora')" if config.method == "full" else ""
    return (f"a {config.method} round of this {family.value} model needs at least {need:.3g} GB for weights, gradients "
            f"and optimizer state; the train worker has {memory_gb:g} GB (DPOLOOP_TRAIN_MEMORY_GB){hint}")  # fmt: skip
