"""Open a diffusers text-to-image pipeline directory: SD 1.x/2.x or SDXL, by its model_index.json."""

from __future__ import annotations

import json
from pathlib import Path

import torch

SUPPORTED = {
    "StableDiffusionPipeline": "sd",
    "StableDiffusionXLPipeline": "sdxl",
}


class ModelLoadError(ValueError):
    """The model directory is missing, malformed, or not a supported pipeline."""


def pipeline_family(model: str | Path) -> str:
    """'sd' or 'sdxl' for a local pipeline directory; raises ModelLoadError otherwise."""
    index = Path(model) / "model_index.json"
    if not index.is_file():
        raise ModelLoadError(f"not a diffusers pipeline directory (no model_index.json): {model}")
    try:
        class_name = json.loads(index.read_text())["_class_name"]
    except (ValueError, KeyError) as exc:
        raise ModelLoadError(f"unreadable model_index.json in {model}: {exc}") from exc
    if class_name not in SUPPORTED:
        raise ModelLoadError(f"unsupported pipeline {class_name!r} in {model}; supported: {sorted(SUPPORTED)}")
    return SUPPORTED[class_name]


def default_device_and_dtype() -> tuple[torch.device, torch.dtype]:
    """CUDA in fp16 when present, else CPU in fp32."""
    if torch.cuda.is_available():
        return torch.device("cuda"), torch.float16
    return torch.device("cpu"), torch.float32


def load_pipeline(model: str | Path, device: torch.device | None = None, dtype: torch.dtype | None = None):
    """Load a pipeline from a local directory, or from a hub id where the machine has internet."""
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline

    default_device, default_dtype = default_device_and_dtype()
    device, dtype = device or default_device, dtype or default_dtype
    local = Path(model).exists()
    if local:
        family = pipeline_family(model)
    elif str(model).count("/") == 1 and not str(model).startswith((".", "/")):
        family = _hub_family(str(model))
    else:
        raise ModelLoadError(f"model directory does not exist: {model}")
    cls = StableDiffusionXLPipeline if family == "sdxl" else StableDiffusionPipeline
    kwargs = {"dtype": dtype, "local_files_only": local}
    if family == "sd":
        kwargs.update(safety_checker=None, requires_safety_checker=False)
    try:
        pipe = cls.from_pretrained(str(model), **kwargs)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"could not load {model}: {exc}") from exc
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device), family


def _hub_family(repo_id: str) -> str:
    """The family of a hub pipeline, read from its model_index.json (needs internet)."""
    from diffusers import DiffusionPipeline

    try:
        class_name = DiffusionPipeline.load_config(repo_id)["_class_name"]
    except (OSError, ValueError, KeyError) as exc:
        raise ModelLoadError(f"model directory does not exist and hub id {repo_id!r} is unreachable: {exc}") from exc
    if class_name not in SUPPORTED:
        raise ModelLoadError(f"unsupported pipeline {class_name!r} at {repo_id}; supported: {sorted(SUPPORTED)}")
    return SUPPORTED[class_name]
