"""Checkpoints ranked on one scale from pairwise human votes: a Bradley-Terry fit (choix) with
bootstrap intervals.

P(i beats j) = 1 / (1 + exp(s_j - s_i)). A tie counts as half a win for each side: every decisive
vote enters the fit twice (winner over loser) and a tie once each way, so the likelihood is that of
half-wins. Strengths are log-odds, anchored so that `anchor` (the base) is 0. A small ridge keeps
the fit finite when one checkpoint won every vote or the comparison graph is not connected
(choix's regularisation of its spectral algorithm, ILSR: the maximum-likelihood fit).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Annotated

import choix
import numpy as np
from pydantic import Field, computed_field

RIDGE = 0.01
UNNAMED = "?"  # a checkpoint's name until the ranking is named


@dataclass(frozen=True)
class Outcome:
    """One vote between two checkpoints: `winner` beat `loser`, or, with tie, neither did."""

    winner: int
    loser: int
    tie: bool = False


@dataclass
class ArenaRating:
    """One checkpoint on the arena's Bradley-Terry scale (log-odds; the base is 0)."""

    checkpoint_id: int
    name: str
    strength: float  # log-odds against the anchor (0)
    interval: tuple[float, float]  # bootstrap 95%
    wins: int
    losses: int
    ties: int

    @computed_field  # served with the tallies
    @property
    def votes(self) -> int:
        return self.wins + self.losses + self.ties


@dataclass
class Ranking:
    """Every checkpoint in the votes on one scale, strongest first."""

    # "standings" in JSON, the name the console and API clients read
    ratings: Annotated[list[ArenaRating], Field(serialization_alias="standings")]
    votes: int
    bootstrap: int  # resamples behind the intervals

    def named(self, names: Mapping[int, str]) -> Ranking:
        """This ranking with each checkpoint's name from `names` (where it is there)."""
        return replace(self, ratings=[replace(r, name=names.get(r.checkpoint_id, UNNAMED)) for r in self.ratings])


def _matrix(n: int, a: np.ndarray, b: np.ndarray, tie: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Half-wins as choix's dense comparison matrix (m[i, j]: times i beat j): a decisive vote is two
    half-wins of its winner, a tie one each way."""
    matrix = np.zeros((n, n))
    np.add.at(matrix, (a, b), np.where(tie, 1, 2) * counts)
    np.add.at(matrix, (b, a), np.where(tie, 1, 0) * counts)
    return matrix


def rank(outcomes: list[Outcome], anchor: int | None = None, bootstrap: int = 200, seed: int = 0) -> Ranking:
    """Strengths of every checkpoint in the outcomes, with 2.5–97.5% bootstrap intervals (votes
    resampled with replacement).

    Votes are grouped into cells (winner, loser, tie) first: resampling n votes with replacement is
    a multinomial draw over the cells, and each fit reads a small dense matrix, so a ranking costs
    the same for 100 votes or 100,000 (about 2 ms a fit)."""
    if not outcomes:
        return Ranking([], 0, 0)
    ids = sorted({c for o in outcomes for c in (o.winner, o.loser)})
    index = {c: i for i, c in enumerate(ids)}
    cells = Counter((index[o.winner], index[o.loser], o.tie) for o in outcomes)
    a, b, tie = (np.array(column) for column in zip(*cells, strict=True))
    counts = np.array(list(cells.values()))

    def fit(weights: np.ndarray) -> np.ndarray:
        strengths = choix.ilsr_pairwise_dense(_matrix(len(ids), a, b, tie, weights), alpha=RIDGE)
        return strengths - (strengths[index[anchor]] if anchor in index else strengths.mean())

    point = fit(counts)
    rng = np.random.default_rng(seed)
    samples = np.array([fit(rng.multinomial(len(outcomes), counts / len(outcomes))) for _ in range(bootstrap)])
    low, high = np.percentile(samples, [2.5, 97.5], axis=0) if bootstrap else (point, point)
    tallies: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    for o in outcomes:
        if o.tie:
            tallies[o.winner][2] += 1
            tallies[o.loser][2] += 1
        else:
            tallies[o.winner][0] += 1
            tallies[o.loser][1] += 1
    ratings = [ArenaRating(c, UNNAMED, float(point[i]), (float(low[i]), float(high[i])), *tallies[c])
               for c, i in index.items()]  # fmt: skip
    ratings.sort(key=lambda r: r.strength, reverse=True)
    return Ranking(ratings, len(outcomes), bootstrap)
