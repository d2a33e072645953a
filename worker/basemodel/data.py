"""Training data for the base model: rendered scenes and the captions that describe them.

Some attribute combinations are held out of training entirely so that `evaluate` measures
composition the model never saw, not memory.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

import numpy as np

from worker.scenes.render import render_array
from worker.scenes.world import Scene, caption_for, sample_scene

UNSEEN_SHARE = 0.1


def is_unseen_combination(scene: Scene) -> bool:
    """True for the ~10% of (colour, shape, size, position) combinations kept out of training."""
    key = f"{scene.colour}/{scene.shape}/{scene.size}/{scene.position}".encode()
    return int(hashlib.sha256(key).hexdigest()[:8], 16) / 0xFFFFFFFF < UNSEEN_SHARE


@dataclass(frozen=True)
class CaptionDropout:
    """How training captions leave attributes out (free attributes are what makes seeds differ)."""

    empty: float = 0.1  # whole caption dropped, for classifier-free guidance
    keep_size: float = 0.7
    keep_position: float = 0.7
    keep_background: float = 0.7

    def caption(self, scene: Scene, rng: random.Random) -> str:
        if rng.random() < self.empty:
            return ""
        return caption_for(
            scene,
            with_size=rng.random() < self.keep_size,
            with_position=rng.random() < self.keep_position,
            with_background=rng.random() < self.keep_background,
        )


def sample_training_scene(rng: random.Random) -> Scene:
    while True:
        scene = sample_scene(rng)
        if not is_unseen_combination(scene):
            return scene


def render_batch(scenes: list[Scene]) -> np.ndarray:
    """Scenes as a float32 array (n, 3, 64, 64) in [-1, 1], the VAE's input range."""
    images = np.stack([render_array(s) for s in scenes]).astype(np.float32)
    return images.transpose(0, 3, 1, 2) / 127.5 - 1.0
