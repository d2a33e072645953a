"""The gate between a trained checkpoint and the labelers: plain rules over the round's metrics.

Implicit accuracy alone is not health: DPO can push the winners' and the losers' likelihood down
together while the accuracy still climbs (docs/what-the-code-relies-on.md). So the gate also
watches the winners' denoising error against the reference's, and, where an automatic judge
exists, prompt-following on a fixed evaluation set.

The held-out statistics are measured, not just computed: a few dozen pairs under a few noise draws
give an accuracy whose standard error is near 0.1, so a point value compared to a limit rejects
healthy rounds by chance. Each is a mean over held-out pairs (each pair's draws averaged first: the
pairs are the independent unit) with Student's t-interval over the pairs, and its rule fails only
when the whole interval lies past the limit. Whether the checkpoint is *better* is the labelers'
question; the gate stops collapse and clear failure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

# A value exactly at a limit passes; floating point must not decide that. A judge mean of 0.925 comes
# out as 0.9250000000000002, which puts a 0.05 drop's bar at 0.8750000000000001: 0.875 would fail.
# Accuracy and drift come from float32 tensors (7/10 is 0.69999999): 1e-6 is well below any real
# difference (a count over at most thousands of pairs or images) and well above that error.
SLACK = 1e-6
# Fewer held-out pairs than this have no spread to measure: such a statistic is judged on its value
# alone (its interval is that point), as the gate judged every statistic before intervals.
MIN_PAIRS = 2
# Where the per-pair values of a held-out statistic are in the metrics (worker/dpo/trainer.py evaluate).
BY_PAIR = "_by_pair"


def at_least(value: float, limit: float) -> bool:
    return value >= limit - SLACK


def at_most(value: float, limit: float) -> bool:
    return value <= limit + SLACK


@dataclass(frozen=True)
class GateThresholds:
    min_accuracy: float
    max_winner_drift: float
    max_judge_drop: float
    confidence: float = 0.95  # of the held-out statistics' intervals
    min_reward_win_rate: float = 0.5  # the preference model's win rate of the new checkpoint over its parent


@dataclass(frozen=True)
class Interval:
    """A held-out statistic: its mean over pairs and a two-sided interval at the gate's confidence."""

    value: float
    low: float
    high: float
    pairs: int | None  # None: a value recorded without its pairs

    @property
    def finite(self) -> bool:
        return all(math.isfinite(x) for x in (self.value, self.low, self.high))

    def describe(self, confidence: float, signed: bool = False) -> str:
        f = "{:+.3f}" if signed else "{:.3f}"
        if self.pairs is None or self.pairs < MIN_PAIRS:
            measured = "no pairs recorded" if self.pairs is None else f"{self.pairs} pair"
            return f"{f.format(self.value)} ({measured}: no interval)"
        return (f"{f.format(self.value)} ({confidence:.0%} interval {f.format(self.low)} to {f.format(self.high)} "
                f"over {self.pairs} pairs)")  # fmt: skip


def interval_over_pairs(per_pair: Sequence[float], confidence: float) -> Interval | None:
    """Student's t-interval for the mean of per-pair values (each already its pair's mean over draws):
    mean ± t(1 − (1 − confidence)/2, n − 1) · s/√n, s the sample standard deviation over the n pairs.
    The pairs are the independent unit, and a mean of bounded values over a few dozen of them is close
    enough to normal for it. None without pairs; one pair gives its value as a zero-width interval."""
    values = np.asarray(per_pair, dtype=np.float64)
    if values.size == 0:
        return None
    mean = float(values.mean())
    if values.size < MIN_PAIRS or not math.isfinite(mean):
        return Interval(mean, mean, mean, int(values.size))
    half = float(stats.t.ppf(0.5 + confidence / 2, values.size - 1) * values.std(ddof=1) / math.sqrt(values.size))
    return Interval(mean, mean - half, mean + half, int(values.size))


def held_out(metrics: dict, key: str, confidence: float) -> Interval | None:
    """The statistic `key` from its per-pair values where recorded, else its bare value as a point."""
    per_pair = metrics.get(key + BY_PAIR)
    if per_pair is not None:
        return interval_over_pairs(per_pair, confidence)
    value = metrics.get(key)
    return None if value is None else Interval(value, value, value, None)


@dataclass
class GateResult:
    passed: bool
    reasons: list[str] = field(default_factory=list)  # why it failed; empty when it passed
    checks: dict[str, bool] = field(default_factory=dict)
    # Per rule the measured value beside its limit, for people: {"accuracy": {"value": 0.71,
    # "limit": 0.6, "op": ">=", "passed": True, "low": 0.62, "high": 0.80, "pairs": 26,
    # "confidence": 0.95}, ...}; low/high/pairs/confidence only on the held-out rules.
    rules: dict[str, dict] = field(default_factory=dict)

    def summary(self) -> str:
        return "passed the gate" if self.passed else "; ".join(self.reasons)


def apply_gate(metrics: dict, thresholds: GateThresholds) -> GateResult:
    """metrics: final_loss, held_out_implicit_accuracy and held_out_winner_drift (with their per-pair
    values under the same key + "_by_pair"), and where a judge ran, judge_score (new checkpoint),
    judge_score_parent (the checkpoint it started from) and, where measured, judge_score_base (the base);
    where the install has a preference model, reward_win_rate (per evaluation pair under + "_by_pair")."""
    result = GateResult(passed=True)
    confidence = thresholds.confidence

    def check(name: str, ok: bool, reason: str, value=None, op: str = "", limit=None,
              interval: Interval | None = None) -> None:  # fmt: skip
        result.checks[name] = ok
        result.rules[name] = {"value": _plain(value), "op": op, "limit": _plain(limit), "passed": ok}
        if interval is not None:
            result.rules[name] |= {"low": _plain(interval.low), "high": _plain(interval.high),
                                   "pairs": interval.pairs, "confidence": confidence}  # fmt: skip
        if not ok:
            result.passed = False
            result.reasons.append(reason)

    loss = metrics.get("final_loss")
    check("finite_loss", loss is not None and math.isfinite(loss), f"the loss was not finite ({loss})", loss, "finite")
    accuracy = held_out(metrics, "held_out_implicit_accuracy", confidence)
    if accuracy is None:
        check("accuracy", False, "no held-out pairs to measure implicit accuracy on")
    else:
        # Fails only when even the interval's top lies below the minimum.
        limit = thresholds.min_accuracy
        reason = f"held-out implicit accuracy {accuracy.describe(confidence)} < {limit:.3f}"
        ok = accuracy.finite and at_least(accuracy.high, limit)
        check("accuracy", ok, reason, accuracy.value, ">=", limit, accuracy)
    drift = held_out(metrics, "held_out_winner_drift", confidence)
    if drift is not None:
        # Fails when even the interval's bottom lies above the maximum (or the drift is not finite).
        limit = thresholds.max_winner_drift
        reason = (f"winners' denoising error drifted {drift.describe(confidence, signed=True)} above the "
                  f"reference's (limit {limit})")  # fmt: skip
        check("winner_drift", drift.finite and at_most(drift.low, limit), reason, drift.value, "<=", limit, drift)
    reward = held_out(metrics, "reward_win_rate", confidence)
    if reward is not None:
        # A campaign's preference model on the evaluation prompts, the new checkpoint against its parent
        # (same seeds): fails only when even the interval's top lies below the limit, so the labelers are
        # never asked about a checkpoint their own model clearly finds worse.
        limit = thresholds.min_reward_win_rate
        reason = (f"the preference model (v{metrics.get('reward_version')}) prefers it to its parent in only "
                  f"{reward.describe(confidence)} of same-seed pairs (limit {limit:.3f})")  # fmt: skip
        check("reward", reward.finite and at_least(reward.high, limit), reason, reward.value, ">=", limit, reward)
    judge, parent = metrics.get("judge_score"), metrics.get("judge_score_parent")
    if judge is not None and parent is not None:
        # Measured from the better of the parent and the base: drops within the tolerance must not
        # add up over a chain of rounds. A point rule: the set, prompts and seeds are fixed, and the
        # registry keeps the parent's and the base's scores as means only, so there are no paired
        # per-image differences to put an interval on.
        base = metrics.get("judge_score_base")
        bar, against = (base, "the base") if base is not None and base > parent else (parent, "the parent")
        tolerance, limit = thresholds.max_judge_drop, round(bar - thresholds.max_judge_drop, 9)
        reason = f"prompt-following fell to {judge:.3f} from {bar:.3f} ({against}; tolerance {tolerance})"
        check("judge", at_least(judge, limit), reason, judge, ">=", limit)
    return result


def _plain(number):
    """JSON has no NaN or infinity: those are written as their names."""
    if isinstance(number, float) and not math.isfinite(number):
        return str(number)
    return number
