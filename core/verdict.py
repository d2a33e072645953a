"""The labelers' verdict on a candidate checkpoint: a sequential, anytime-valid decision on its win rate
against the checkpoint that serves, read after every vote.

The rule is testing by betting, with the one-sided confidence sequences of Waudby-Smith & Ramdas,
"Estimating means of bounded random variables by betting" (JRSS-B 2024, arXiv:2010.09686): a vote on
the candidate scores x in {0, ½, 1} (loss, tie, win; a both-bad or skip says nothing about which side
is better and is not a vote on it), a bounded observation whose mean μ is the candidate's win rate.

- Promote. A gambler bets against "μ ≤ m": capital K⁺(m) = Π (1 + λ⁺ᵢ(m)·(xᵢ − m)), each bet λ⁺ᵢ ≥ 0
  fixed before vote i is seen. While μ ≤ m every factor has mean ≤ 1, so K⁺(m) is a nonnegative
  supermartingale and, by Ville's inequality, P(it ever reaches 1/α) ≤ α — at every vote at once,
  however long the judging runs and whenever it is read (a fixed-n test read after every vote has no
  such bound). The candidate is promoted the first time K⁺(½) ≥ 1/α: α (DPOLOOP_VERDICT_ALPHA) is the
  false promotion rate of a candidate that is no better, ties or not, and also of a worse one.
- Reject. The mirror image, K⁻(m) = Π (1 − λ⁻ᵢ(m)·(xᵢ − m)), bets against "μ ≥ m" and rejects the
  candidate the first time K⁻(½ + margin) ≥ 1/β: β (DPOLOOP_VERDICT_BETA) is the rate at which a
  candidate better by the margin or more (DPOLOOP_VERDICT_MARGIN) is rejected. The margin is not 0
  because a candidate exactly as good as what serves must be rejected in reasonable time: at
  μ = ½ a test against "μ ≥ ½" has no edge and would run to the cap; against "μ ≥ ½ + margin" it wins
  at a steady rate. A candidate better by less than the margin may go either way — no swap is worth
  making for a difference the labelers can hardly see.
- Undecided. After DPOLOOP_VERDICT_MAX_VOTES votes with neither, the verdict is "undecided" and what
  serves keeps serving. A decision is final: votes after it are not read.

The bets are WSR's aGRAPA ("approximate growth-rate adaptive to the particular alternative"), aimed at
the point each test decides on: λ = (μ̂ − m)/(σ̂² + (μ̂ − m)²) from the running mean and variance of the
votes before (WSR's μ̂ₜ = (½ + Σx)/(t + 1), σ̂²ₜ = (¼ + Σ(xᵢ − μ̂ᵢ)²)/(t + 1)), clipped to [0, c/m]
with c = ½ (WSR's truncation; the capital never loses more than half in one vote). A bet aimed at the
decision point, not at each m (then cut to c/m), makes K⁺(m) nonincreasing and K⁻(m) nondecreasing in
m, so the values of m either test refutes lie below (above) the truth and `bounds` is their edge, read on
a grid of 1/1000 that holds ½ and ½ + margin: the lower bound is the largest grid point at and below which
every grid point has K⁺ ≥ 1/α, the upper the smallest at and above which every one has K⁻ ≥ 1/β. The
truth is past an edge only if the test at the grid point next to it, on its side, erred, so μ ≥ lower
at every vote at once with probability ≥ 1 − α, and μ ≤ upper with ≥ 1 − β; each edge is the running
best since the first vote (a running intersection keeps the guarantee). Promotion is exactly "the lower
bound reached ½", rejection "the upper bound fell to ½ + margin".

The guarantees take each vote's expected score, given the votes before it, to be at most (at least) the
rate tested: the evaluation pairs must be served in an order that does not follow the votes.

`votes_needed_estimate` is a rough guide: from the vote shares so far and the next bet, the votes each
capital needs at its expected growth per vote to reach its threshold (the nearer one), never past the cap.

Everything here is pure: a vote stream in, a verdict out (numpy, vectorised over many streams for
simulation).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from pydantic import ConfigDict

if TYPE_CHECKING:
    from core.settings import Settings

BET_CAP = 0.5  # WSR's c: a bet against m is at most c/m (c/(1 − m) for the upper side)
GRID = 1000  # the bounds' resolution


class Outcome(enum.StrEnum):
    """One vote on an evaluation pair, from the candidate's side."""

    win = "win"
    loss = "loss"
    tie = "tie"
    both_bad = "both_bad"
    skip = "skip"


SCORE = {Outcome.win: 1.0, Outcome.tie: 0.5, Outcome.loss: 0.0}  # both-bad and skip are not on the win rate


class State(enum.StrEnum):
    judging = "judging"
    promoted = "promoted"
    rejected = "rejected"
    undecided = "undecided"


@dataclass(frozen=True)
class VerdictRule:
    # Served as it is (GET /admin/overview): its JSON schema says every field is always there, defaults or not.
    __pydantic_config__ = ConfigDict(json_schema_serialization_defaults_required=True)

    alpha: float = 0.05  # false promotion rate of a candidate that is no better
    beta: float = 0.05  # false rejection rate of a candidate better by `margin` or more
    margin: float = 0.1
    max_votes: int = 400

    def __post_init__(self) -> None:
        if not (0 < self.alpha < 1 and 0 < self.beta < 1 and 0 < self.margin < 0.5 and self.max_votes >= 1):
            raise ValueError(f"not a verdict rule: {self}")

    @classmethod
    def from_settings(cls, settings: Settings) -> VerdictRule:
        return cls(settings.verdict_alpha, settings.verdict_beta, settings.verdict_margin, settings.verdict_max_votes)

    @property
    def reject_point(self) -> float:
        return 0.5 + self.margin


@dataclass(frozen=True)
class Verdict:
    state: State
    wins: int
    losses: int
    ties: int
    votes_needed_estimate: int | None  # None once decided
    bounds: tuple[float, float]  # the win rate lies inside, at every vote at once (levels 1 − α below, 1 − β above)

    @property
    def votes(self) -> int:
        return self.wins + self.losses + self.ties


def scores(outcomes: Iterable[Outcome | str]) -> np.ndarray:
    """The votes on the win rate, in order: win 1, tie ½, loss 0; both-bad and skip dropped."""
    return np.array([SCORE[o] for o in map(Outcome, outcomes) if o in SCORE], dtype=float)


def _estimates(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """WSR's running mean and variance known before each vote (…, T): a prior of one vote at ½ (variance ¼)."""
    t = np.arange(1, x.shape[-1] + 1)
    mean_after = (0.5 + np.cumsum(x, axis=-1)) / (t + 1)  # μ̂ₜ, vote t included
    var_after = (0.25 + np.cumsum((x - mean_after) ** 2, axis=-1)) / (t + 1)
    shift = [(0, 0)] * (x.ndim - 1) + [(1, 0)]
    mean = np.pad(mean_after[..., :-1], shift, constant_values=0.5)
    var = np.pad(var_after[..., :-1], shift, constant_values=0.25)
    return mean, var


def _bets(x: np.ndarray, rule: VerdictRule) -> tuple[np.ndarray, np.ndarray]:
    """aGRAPA bets before each vote: against μ ≤ ½ (promote) and against μ ≥ ½ + margin (reject)."""
    mean, var = _estimates(x)
    up, down = mean - 0.5, rule.reject_point - mean
    bet_up = np.clip(up / (var + up**2), 0, BET_CAP / 0.5)
    bet_down = np.clip(down / (var + down**2), 0, BET_CAP / (1 - rule.reject_point))
    return bet_up, bet_down


def _log_capitals(x: np.ndarray, rule: VerdictRule) -> tuple[np.ndarray, np.ndarray]:
    """log K⁺(½) and log K⁻(½ + margin) after each vote, shape of x."""
    bet_up, bet_down = _bets(x, rule)
    return (np.cumsum(np.log1p(bet_up * (x - 0.5)), axis=-1),
            np.cumsum(np.log1p(-bet_down * (x - rule.reject_point)), axis=-1))  # fmt: skip


PROMOTED, REJECTED, UNDECIDED, JUDGING = 1, -1, 0, 2  # codes of `decide`


def decide(x: np.ndarray, rule: VerdictRule) -> tuple[np.ndarray, np.ndarray]:
    """Many vote streams at once (streams × votes, scores in {0, ½, 1}): each one's outcome code and the
    votes it took (the decision's vote, or the votes read when none was made)."""
    x = np.atleast_2d(np.asarray(x, dtype=float))[:, : rule.max_votes]
    up, down = _log_capitals(x, rule)
    promote = up >= math.log(1 / rule.alpha)
    reject = down >= math.log(1 / rule.beta)  # never on the vote that promotes: a win lowers K⁻, a loss K⁺
    first_p = np.where(promote.any(axis=1), promote.argmax(axis=1), np.iinfo(np.int64).max)
    first_r = np.where(reject.any(axis=1), reject.argmax(axis=1), np.iinfo(np.int64).max)
    decided = np.minimum(first_p, first_r) < x.shape[1]
    code = np.where(first_p < first_r, PROMOTED, REJECTED)
    code = np.where(decided, code, UNDECIDED if x.shape[1] >= rule.max_votes else JUDGING)
    votes = np.where(decided, np.minimum(first_p, first_r) + 1, x.shape[1])
    return code, votes


def _grid(rule: VerdictRule) -> np.ndarray:
    return np.union1d(np.linspace(0, 1, GRID + 1), [0.5, rule.reject_point])


def bound_paths(x: np.ndarray, rule: VerdictRule) -> tuple[np.ndarray, np.ndarray]:
    """The lower and upper bound after each vote of one stream: the running intersection of both one-sided
    confidence sequences. The lower bound is the largest grid point below which every grid point is refuted
    (K⁺(m) ≥ 1/α), the upper the smallest above which every one is (K⁻(m) ≥ 1/β): the truth is past such
    a point only if the test at the grid point next to the truth, on its side, was wrong."""
    m = _grid(rule)[:, None]
    bet_up, bet_down = _bets(x, rule)
    up = np.cumsum(np.log1p(np.minimum(bet_up, BET_CAP / np.maximum(m, 1e-12)) * (x - m)), axis=1)
    down = np.cumsum(np.log1p(-np.minimum(bet_down, BET_CAP / np.maximum(1 - m, 1e-12)) * (x - m)), axis=1)
    kept_below = up < math.log(1 / rule.alpha)  # (m, t); with the bets above K⁺ falls in m: kept is a suffix
    kept_above = down < math.log(1 / rule.beta)  # K⁻ rises in m: kept is a prefix
    grid = np.append(m[:, 0], 1.0)
    first_kept = np.where(kept_below.any(axis=0), kept_below.argmax(axis=0), len(grid) - 1)
    last_kept = np.where(kept_above.any(axis=0), len(grid) - 2 - kept_above[::-1].argmax(axis=0), -1)
    lower = np.where(first_kept > 0, grid[first_kept - 1], 0.0)
    upper = grid[last_kept + 1]
    return np.maximum.accumulate(lower), np.minimum.accumulate(upper)


def confidence_bounds(x: np.ndarray, rule: VerdictRule) -> tuple[float, float]:
    """The bounds after all of the votes x (one stream): (0, 1) before any."""
    if not len(x):
        return (0.0, 1.0)
    lower, upper = bound_paths(x, rule)
    return round(float(lower[-1]), 9), round(float(upper[-1]), 9)  # grid points, float error dropped


def votes_needed(x: np.ndarray, rule: VerdictRule) -> int:
    """A rough guide: votes until the nearer threshold at each capital's expected growth, at most the cap."""
    left = rule.max_votes - len(x)
    if not len(x):
        return left
    values = np.array([0.0, 0.5, 1.0])
    shares = np.array([(x == v).mean() for v in values])
    ahead = np.append(x, 0.5)  # the next bets depend only on the votes so far
    bet_up, bet_down = (b[-1] for b in _bets(ahead, rule))
    up, down = (c[-1] for c in _log_capitals(x, rule))
    needs = [left]
    for log_capital, threshold, growth in (
        (up, math.log(1 / rule.alpha), shares @ np.log1p(bet_up * (values - 0.5))),
        (down, math.log(1 / rule.beta), shares @ np.log1p(-bet_down * (values - rule.reject_point))),
    ):
        if growth > 0:
            needs.append(math.ceil((threshold - log_capital) / growth))
    return max(1, min(needs))


def judge(outcomes: Iterable[Outcome | str], rule: VerdictRule) -> Verdict:
    """The verdict after a candidate's votes, in the order they were cast."""
    x = scores(outcomes)
    code, votes = decide(x, rule) if len(x) else (np.array([JUDGING]), np.array([0]))
    x = x[: int(votes[0])]  # a decision is final: later votes are not read
    state = {PROMOTED: State.promoted, REJECTED: State.rejected, UNDECIDED: State.undecided}.get(
        int(code[0]), State.judging
    )
    wins, ties = int((x == 1).sum()), int((x == 0.5).sum())
    needed = votes_needed(x, rule) if state == State.judging else None
    return Verdict(state, wins, len(x) - wins - ties, ties, needed, confidence_bounds(x, rule))
