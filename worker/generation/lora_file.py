"""A LoRA checkpoint's file, pytorch_lora_weights.safetensors: the weights in diffusers' layout, and the
adapter's LoraConfig in the file's metadata (diffusers' `lora_adapter_metadata`), so every reader wears
the alpha/r scale the adapter trained at. Files written before carry no config: they are worn at scale 1,
as they always were."""

from __future__ import annotations

import json
import re
from pathlib import Path

WEIGHTS = "pytorch_lora_weights.safetensors"
METADATA_KEY = "lora_adapter_metadata"  # diffusers' name; load_lora_weights(directory) reads it
_UP = re.compile(r"\.(lora_B|lora\.up|lora_linear_layer\.up|lora_up)\.")  # the projection alpha/r scales


def adapter_metadata(denoiser_name: str, denoiser, adapter_name: str) -> dict:
    """save_lora_weights' keyword for the adapter's config (unet_lora_adapter_metadata, or transformer_…)."""
    return {f"{denoiser_name}_lora_adapter_metadata": denoiser.peft_config[adapter_name].to_dict()}


def read_as_worn(directory: str | Path, denoiser_name: str) -> dict:
    """The weights with alpha/r folded into the up projections. load_lora_weights, handed a state dict
    rather than a directory, never sees the file's metadata and wears alpha = r."""
    from safetensors.torch import load_file

    return scale_up_projections(load_file(str(Path(directory) / WEIGHTS)), worn_scale(directory, denoiser_name))


def worn_scale(directory: str | Path, denoiser_name: str) -> float:
    """The factor the checkpoint serves its B·A at: alpha/r from the file's config, 1 for a file without one."""
    from safetensors import safe_open

    with safe_open(str(Path(directory) / WEIGHTS), framework="pt") as opened:
        return _scale((opened.metadata() or {}).get(METADATA_KEY), denoiser_name)


def scale_up_projections(state: dict, scale: float) -> dict:
    """The LoRA's update B·A times `scale`, put into B (diffusers' and peft's key layouts alike)."""
    if scale == 1:
        return state
    return {key: weight * scale if _UP.search(key) else weight for key, weight in state.items()}


def _scale(raw: str | None, denoiser_name: str) -> float:
    """alpha / r from the saved config (rounds use neither rsLoRA nor per-layer patterns)."""
    if not raw:
        return 1.0
    config = json.loads(raw)
    rank, alpha = config.get(f"{denoiser_name}.r"), config.get(f"{denoiser_name}.lora_alpha")
    return alpha / rank if rank and alpha else 1.0
