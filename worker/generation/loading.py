"""Open a diffusers text-to-image pipeline directory of a supported family (core/family.py)."""

from __future__ import annotations

from pathlib import Path

import torch

from core.family import ModelFamily, UnsupportedModel, family_of_class, model_family


class ModelLoadError(ValueError):
    """The model directory is missing, malformed, or not a supported pipeline."""


def default_device_and_dtype() -> tuple[torch.device, torch.dtype]:
    """CUDA in fp16 when present, else CPU in fp32."""
    if torch.cuda.is_available():
        return torch.device("cuda"), torch.float16
    return torch.device("cpu"), torch.float32


def load_pipeline(
    model: str | Path, device: torch.device | None = None, dtype: torch.dtype | None = None
) -> tuple[object, ModelFamily]:
    """Load a pipeline from a local directory, or from a hub id where the machine has internet."""
    default_device, default_dtype = default_device_and_dtype()
    device, dtype = device or default_device, dtype or default_dtype
    local = Path(model).exists()
    if local:
        try:
            family = model_family(model)
        except UnsupportedModel as exc:
            raise ModelLoadError(str(exc)) from exc
    elif str(model).count("/") == 1 and not str(model).startswith((".", "/")):
        family = _hub_family(str(model))
    else:
        raise ModelLoadError(f"model directory does not exist: {model}")
    cls = pipeline_class(family)
    kwargs = {"dtype": dtype, "local_files_only": local}
    if family in (ModelFamily.sd, ModelFamily.scenes):  # SD asks for a safety checker; people judge dpoloop's images
        kwargs.update(safety_checker=None, requires_safety_checker=False)
    try:
        pipe = cls.from_pretrained(str(model), **kwargs)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"could not load {model}: {exc}") from exc
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device), family


def pipeline_class(family: ModelFamily):
    import diffusers

    names = {ModelFamily.sdxl: "StableDiffusionXLPipeline", ModelFamily.sd3: "StableDiffusion3Pipeline",
             ModelFamily.flux: "FluxPipeline"}  # fmt: skip
    return getattr(diffusers, names.get(family, "StableDiffusionPipeline"))


def _hub_family(repo_id: str) -> ModelFamily:
    """The family of a hub pipeline, read from its model_index.json (needs internet)."""
    from diffusers import DiffusionPipeline

    try:
        class_name = DiffusionPipeline.load_config(repo_id)["_class_name"]
    except (OSError, ValueError, KeyError) as exc:
        raise ModelLoadError(f"model directory does not exist and hub id {repo_id!r} is unreachable: {exc}") from exc
    try:
        return family_of_class(class_name, repo_id)
    except UnsupportedModel as exc:
        raise ModelLoadError(str(exc)) from exc
