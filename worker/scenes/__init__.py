"""A tiny synthetic world of captioned scenes: one coloured shape on a plain background.

It is what the embedded base model is trained on, and its scorer is the project's automatic judge.
Only numpy and Pillow are needed here, so the API side may use it too.
"""

from worker.scenes.world import (
    BACKGROUNDS,
    COLOURS,
    POSITIONS,
    SHAPES,
    SIZES,
    Scene,
    caption_for,
    parse_caption,
    sample_scene,
)

__all__ = [
    "BACKGROUNDS",
    "COLOURS",
    "POSITIONS",
    "SHAPES",
    "SIZES",
    "Scene",
    "caption_for",
    "parse_caption",
    "sample_scene",
]
