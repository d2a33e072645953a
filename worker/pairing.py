"""Which two of a prompt's rendered candidates a labeler sees (DPOLOOP_PAIRING).

- random: the two rendered (no choice: today's pairs, the baseline).
- diverse: the two whose final latents lie farthest apart (Euclidean distance over the whole latent).
  Two seeds of one prompt often come out nearly alike — a labeler's tie, which teaches DPO nothing
  (its loss needs a winner and a loser) — so the farthest pair of K is the one most likely to differ
  in what a person judges. Latent distance works for any model; no judge model is needed.
"""

from __future__ import annotations

import numpy as np


def farthest_pair(latents: list[np.ndarray]) -> tuple[int, int]:
    """Indices (i < j) of the two latents farthest apart; ties go to the lowest indices."""
    flat = np.stack([np.asarray(x, dtype=np.float64).ravel() for x in latents])
    squared = (flat**2).sum(axis=1)
    distances = squared[:, None] + squared[None, :] - 2 * flat @ flat.T
    np.fill_diagonal(distances, -np.inf)
    i, j = np.unravel_index(int(np.argmax(distances)), distances.shape)
    return (int(min(i, j)), int(max(i, j)))


def shown_pair(strategy: str | None, latents: list[np.ndarray]) -> tuple[int, int]:
    """The two candidates to show for `strategy`."""
    if strategy == "diverse" and len(latents) > 2:
        return farthest_pair(latents)
    return (0, 1)
