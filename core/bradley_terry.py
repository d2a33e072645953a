"""Checkpoints ranked on one scale from pairwise human votes: a Bradley-Terry fit (choix) with
bootstrap intervals.

P(i beats j) = 1 / (1 + exp(s_j - s_i)). A tie counts as half a win for each side: every decisive
vote enters the fit twice (winner over loser) and a tie once each way, so the likelihood is that of
half-wins. Strengths are log-odds, anchored so that `anchor` (the base) is 0. A small ridge keeps
the fit finite when one checkpoint won every vote or the comparison graph is not connected
(choix's regularisation of its spectral algorithm).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import choix
import numpy as np

RIDGE = 0.01


@dataclass(frozen=True)
class Outcome:
    """One vote between two checkpoints: `winner` beat `loser`, or, with tie, neither did."""

    winner: int
    loser: int
    tie: bool = False


@dataclass
class Standing:
    checkpoint_id: int
    strength: float  # log-odds against the anchor (0)
    interval: tuple[float, float]  # bootstrap 95%
    wins: int = 0
    losses: int = 0
    ties: int = 0

    @property
    def votes(self) -> int:
        return self.wins + self.losses + self.ties


@dataclass
class Ranking:
    standings: list[Standing] = field(default_factory=list)  # strongest first
    votes: int = 0
    bootstrap: int = 0


def _fit(n: int, outcomes: list[Outcome], index: dict[int, int]) -> np.ndarray:
    data = []
    for o in outcomes:
        a, b = index[o.winner], index[o.loser]
        data += [(a, b), (b, a)] if o.tie else [(a, b), (a, b)]
    return choix.ilsr_pairwise(n, data, alpha=RIDGE)  # Luce spectral ranking: the ML fit, ~12x faster than opt_pairwise


def rank(outcomes: list[Outcome], anchor: int | None = None, bootstrap: int = 200, seed: int = 0) -> Ranking:
    """Strengths of every checkpoint in the outcomes, with 2.5–97.5% bootstrap intervals (votes
    resampled with replacement)."""
    if not outcomes:
        return Ranking()
    ids = sorted({c for o in outcomes for c in (o.winner, o.loser)})
    index = {c: i for i, c in enumerate(ids)}

    def anchored(strengths: np.ndarray) -> np.ndarray:
        return strengths - (strengths[index[anchor]] if anchor in index else strengths.mean())

    point = anchored(_fit(len(ids), outcomes, index))
    rng = np.random.default_rng(seed)
    samples = np.array([anchored(_fit(len(ids), [outcomes[k] for k in rng.integers(0, len(outcomes), len(outcomes))],
                                      index)) for _ in range(bootstrap)])  # fmt: skip
    low, high = np.percentile(samples, [2.5, 97.5], axis=0) if bootstrap else (point, point)
    tallies: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    for o in outcomes:
        if o.tie:
            tallies[o.winner][2] += 1
            tallies[o.loser][2] += 1
        else:
            tallies[o.winner][0] += 1
            tallies[o.loser][1] += 1
    standings = [Standing(c, float(point[i]), (float(low[i]), float(high[i])), *tallies[c]) for c, i in index.items()]
    standings.sort(key=lambda s: s.strength, reverse=True)
    return Ranking(standings, len(outcomes), bootstrap)
