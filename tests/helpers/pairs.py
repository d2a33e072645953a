"""Preference pairs a model can learn, for trainer tests of any family."""

from __future__ import annotations

import numpy as np

from worker.dpo.trainer import TrainingPair


def separable_pairs(count: int, seed: int = 0, prompt: str = "a red circle") -> list[TrainingPair]:
    """Winners bright in the left half, losers in the right, over shared noise (4×16×16 latents)."""
    rng = np.random.default_rng(seed)
    pairs = []
    for _ in range(count):
        base = rng.normal(0, 0.3, (4, 16, 16)).astype(np.float32)
        winner, loser = base.copy(), base.copy()
        winner[:, :, :8] += 1.5
        loser[:, :, 8:] += 1.5
        pairs.append(TrainingPair(prompt, winner, loser))
    return pairs
