"""Which two of a prompt's rendered candidates a labeler sees (DPOLOOP_PAIRING).

- random: the two rendered (no choice: today's pairs, the baseline).
- diverse: the two farthest apart (Euclidean distance). Two seeds of one prompt often come out nearly
  alike — a labeler's tie, which teaches DPO nothing (its loss needs a winner and a loser) — so the
  farthest pair of K is the one most likely to differ in what a person judges. The points are the
  gate judge's image embeddings where it has them (CLIP, PickScore: worker/tasks/pool.py), else the
  final latents, which any model has.
- uncertain: once a DPO checkpoint serves, the pair whose outcome the served model can least predict.
  Each candidate has an implicit reward r under the served checkpoint against the base
  (worker/dpo/implicit_reward.py), and DPO's Bradley-Terry model gives P(i ≻ j) = σ(r_i - r_j).
  "Most informative" here is the pair nearest P = ½: the label's entropy under the model is largest
  there, and so is DPO's expected gradient weight, 2·σ(Δ)·σ(-Δ), which falls towards 0 for pairs
  the model already ranks confidently (they teach it little whichever way the vote goes). Nearest
  ½ alone would favour near-duplicates (equal images have equal rewards: a tie), so it chooses only
  among the farther half of the candidate pairs by that same distance. The alternatives the issue
  names — disagreement between the last two checkpoints, expected information gain over a posterior
  — need two served models or a posterior this loop does not keep; this one needs one extra pass.
  While the base serves there is no learned reward: the pool plans `diverse` pairs instead.
- reward: as uncertain, with the campaign's preference model's scores (worker/reward/) in place of the
  implicit reward: the pairs its model of the labelers can least predict, which is where a person's
  vote teaches it most. A share of pairs (DPOLOOP_PAIRING_RANDOM_SHARE) is shown at random instead, so
  that what people are asked about is not only what the model already doubts. `diverse` until a
  preference model has trained.
"""

from __future__ import annotations

import numpy as np


def _squared_distances(points: list[np.ndarray]) -> np.ndarray:
    flat = np.stack([np.asarray(x, dtype=np.float64).ravel() for x in points])
    squared = (flat**2).sum(axis=1)
    return squared[:, None] + squared[None, :] - 2 * flat @ flat.T


def farthest_pair(points: list[np.ndarray]) -> tuple[int, int]:
    """Indices (i < j) of the two points (latents or embeddings) farthest apart; ties go to the lowest indices."""
    distances = _squared_distances(points)
    np.fill_diagonal(distances, -np.inf)
    i, j = np.unravel_index(int(np.argmax(distances)), distances.shape)
    return (int(min(i, j)), int(max(i, j)))


def most_uncertain_pair(points: list[np.ndarray], rewards: np.ndarray) -> tuple[int, int]:
    """Of the candidate pairs at least the median pair distance apart, the one whose implicit rewards
    differ least (P(i ≻ j) nearest ½); ties go to the farther pair, then the lowest indices."""
    distances = _squared_distances(points)
    pairs = [(i, j) for i in range(len(points)) for j in range(i + 1, len(points))]
    floor = np.median([distances[i, j] for i, j in pairs])
    far = [(i, j) for i, j in pairs if distances[i, j] >= floor]
    return min(far, key=lambda p: (abs(float(rewards[p[0]] - rewards[p[1]])), -distances[p], p))


def shown_pair(strategy: str | None, points: list[np.ndarray], rewards: np.ndarray | None = None) -> tuple[int, int]:
    """The two candidates to show for `strategy`, given each candidate's point (latents or embedding;
    uncertain and reward also need each candidate's implicit reward or preference-model score)."""
    if strategy in ("uncertain", "reward") and rewards is not None and len(points) > 2:
        return most_uncertain_pair(points, rewards)
    if strategy in ("diverse", "uncertain", "reward") and len(points) > 2:
        return farthest_pair(points)
    return (0, 1)
