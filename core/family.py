"""Model families: which kind of pipeline a base model is, read from its files (no torch).

One meaning everywhere: `scenes` (the embedded model `dpoloop base-model train` makes; SD-shaped,
with an automatic judge), `sd` (Stable Diffusion 1.x/2.x), `sdxl`, `sd3` (Stable Diffusion 3/3.5) or
`flux` (FLUX.1). The family picks the pipeline class, the denoiser (a UNet trained on noise or
velocity, or a flow-matching transformer), the text conditioning, the DPO defaults and whether the
gate has a judge.
"""

from __future__ import annotations

import enum
import json
from pathlib import Path


class ModelFamily(enum.StrEnum):
    scenes = "scenes"
    sd = "sd"
    sdxl = "sdxl"
    sd3 = "sd3"
    flux = "flux"

    @property
    def is_xl(self) -> bool:
        """Two text encoders and SDXL's added conditioning (pipeline class, prompt encoding)."""
        return self is ModelFamily.sdxl

    @property
    def is_flow(self) -> bool:
        """A rectified-flow model: x_t = (1 − t)·x0 + t·noise, the denoiser predicts noise − x0."""
        return self in (ModelFamily.sd3, ModelFamily.flux)

    @property
    def denoiser(self) -> str:
        """The pipeline's attribute (and a full checkpoint's folder) holding the trained network."""
        return "transformer" if self.is_flow else "unet"

    def native_size(self, denoiser_sample_size: int | None, vae_factor: int, vae_sample_size: int) -> int:
        """The image size the model was trained at, in pixels: the denoiser's sample size times the VAE's
        factor, or the VAE's own sample size (FLUX, whose transformer names none)."""
        if self is ModelFamily.flux or not denoiser_sample_size:
            return int(vae_sample_size)
        return int(denoiser_sample_size) * vae_factor

    @property
    def has_judge(self) -> bool:
        """Whether an automatic judge (the scene scorer) can read this family's images."""
        return self is ModelFamily.scenes


# diffusers' pipeline class (model_index.json's _class_name) → family; the embedded model's
# directory also holds training.json, which makes an SD pipeline a `scenes` one.
PIPELINE_CLASSES = {
    "StableDiffusionPipeline": ModelFamily.sd,
    "StableDiffusionXLPipeline": ModelFamily.sdxl,
    "StableDiffusion3Pipeline": ModelFamily.sd3,
    "FluxPipeline": ModelFamily.flux,
}
SCENES_MARKER = "training.json"


class UnsupportedModel(ValueError):
    """The base model is not a pipeline directory of a supported family."""


def family_of_class(class_name: str, where: str) -> ModelFamily:
    if class_name not in PIPELINE_CLASSES:
        raise UnsupportedModel(f"unsupported pipeline {class_name!r} in {where}; supported: {sorted(PIPELINE_CLASSES)}")
    return PIPELINE_CLASSES[class_name]


def model_family(model: str | Path) -> ModelFamily:
    """The family of a local pipeline directory, from its files; for a hub id (no local files), a
    guess from its name (the worker reads the real class when it loads it)."""
    path = Path(model)
    index = path / "model_index.json"
    if not path.exists():
        return _guess_from_name(str(model))
    if not index.is_file():
        raise UnsupportedModel(f"not a diffusers pipeline directory (no model_index.json): {model}")
    try:
        class_name = json.loads(index.read_text())["_class_name"]
    except (ValueError, KeyError) as exc:
        raise UnsupportedModel(f"unreadable model_index.json in {model}: {exc}") from exc
    family = family_of_class(class_name, str(model))
    return ModelFamily.scenes if family is ModelFamily.sd and (path / SCENES_MARKER).is_file() else family


def _guess_from_name(model: str) -> ModelFamily:
    name = model.lower()
    for marker, family in (("flux", ModelFamily.flux), ("diffusion-3", ModelFamily.sd3), ("sd3", ModelFamily.sd3),
                           ("xl", ModelFamily.sdxl)):  # fmt: skip
        if marker in name:
            return family
    return ModelFamily.sd
