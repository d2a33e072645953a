"""Model families: which kind of pipeline a base model is, read from its files (no torch).

One meaning everywhere: `scenes` (the embedded model `dpoloop base-model train` makes; SD-shaped,
with an automatic judge), `sd` (Stable Diffusion 1.x/2.x) or `sdxl`. The family picks the pipeline
class, the text conditioning, the DPO defaults and whether the gate has a judge.
"""

from __future__ import annotations

import enum
import json
from pathlib import Path


class ModelFamily(enum.StrEnum):
    scenes = "scenes"
    sd = "sd"
    sdxl = "sdxl"

    @property
    def is_xl(self) -> bool:
        """Two text encoders and SDXL's added conditioning (pipeline class, prompt encoding)."""
        return self is ModelFamily.sdxl

    @property
    def has_judge(self) -> bool:
        """Whether an automatic judge (the scene scorer) can read this family's images."""
        return self is ModelFamily.scenes


# diffusers' pipeline class (model_index.json's _class_name) → family; the embedded model's
# directory also holds training.json, which makes an SD pipeline a `scenes` one.
PIPELINE_CLASSES = {"StableDiffusionPipeline": ModelFamily.sd, "StableDiffusionXLPipeline": ModelFamily.sdxl}
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
        return ModelFamily.sdxl if "xl" in str(model).lower() else ModelFamily.sd
    if not index.is_file():
        raise UnsupportedModel(f"not a diffusers pipeline directory (no model_index.json): {model}")
    try:
        class_name = json.loads(index.read_text())["_class_name"]
    except (ValueError, KeyError) as exc:
        raise UnsupportedModel(f"unreadable model_index.json in {model}: {exc}") from exc
    family = family_of_class(class_name, str(model))
    return ModelFamily.scenes if family is ModelFamily.sd and (path / SCENES_MARKER).is_file() else family
