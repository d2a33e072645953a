"""A win rate with ties counted as half a win, and its 95% interval (Wilson's, which stays inside
[0, 1] and behaves on small counts)."""

from __future__ import annotations

import math
from dataclasses import dataclass


def wilson(successes: float, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass
class WinRate:
    wins: int = 0
    losses: int = 0
    ties: int = 0

    @property
    def decided(self) -> int:
        """Comparisons that say something about who is better (a tie says: neither)."""
        return self.wins + self.losses + self.ties

    @property
    def rate(self) -> float | None:
        return (self.wins + self.ties / 2) / self.decided if self.decided else None

    @property
    def interval(self) -> tuple[float, float] | None:
        return wilson(self.wins + self.ties / 2, self.decided) if self.decided else None
