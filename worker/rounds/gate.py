"""The gate between a trained checkpoint and the labelers: plain rules over the round's metrics.

Implicit accuracy alone is not health: DPO can push the winners' and the losers' likelihood down
together while the accuracy still climbs (docs/what-the-code-relies-on.md). So the gate also
watches the winners' denoising error against the reference's, and, where an automatic judge
exists, prompt-following on a fixed evaluation set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

# A value exactly at a limit passes; floating point must not decide that. A judge mean of 0.925 comes
# out as 0.9250000000000002, which puts a 0.05 drop's bar at 0.8750000000000001: 0.875 would fail.
# Accuracy and drift come from float32 tensors (7/10 is 0.69999999): 1e-6 is well below any real
# difference (a count over at most thousands of pairs or images) and well above that error.
SLACK = 1e-6


def at_least(value: float, limit: float) -> bool:
    return value >= limit - SLACK


def at_most(value: float, limit: float) -> bool:
    return value <= limit + SLACK


@dataclass(frozen=True)
class GateThresholds:
    min_accuracy: float
    max_winner_drift: float
    max_judge_drop: float


@dataclass
class GateResult:
    passed: bool
    reasons: list[str] = field(default_factory=list)  # why it failed; empty when it passed
    checks: dict[str, bool] = field(default_factory=dict)
    # Per rule the measured value beside its limit, for people: {"accuracy": {"value": 0.71,
    # "limit": 0.6, "op": ">=", "passed": True}, ...}
    rules: dict[str, dict] = field(default_factory=dict)

    def summary(self) -> str:
        return "passed the gate" if self.passed else "; ".join(self.reasons)


def apply_gate(metrics: dict, thresholds: GateThresholds) -> GateResult:
    """metrics: final_loss, held_out_implicit_accuracy, held_out_winner_drift, and where a judge ran,
    judge_score (new checkpoint), judge_score_parent (the checkpoint it started from) and, where
    measured, judge_score_base (the base model)."""
    result = GateResult(passed=True)

    def check(name: str, ok: bool, reason: str, value=None, op: str = "", limit=None) -> None:
        result.checks[name] = ok
        result.rules[name] = {"value": _plain(value), "op": op, "limit": _plain(limit), "passed": ok}
        if not ok:
            result.passed = False
            result.reasons.append(reason)

    loss = metrics.get("final_loss")
    check("finite_loss", loss is not None and math.isfinite(loss), f"the loss was not finite ({loss})", loss, "finite")
    accuracy = metrics.get("held_out_implicit_accuracy")
    if accuracy is None:
        check("accuracy", False, "no held-out pairs to measure implicit accuracy on")
    else:
        check("accuracy", at_least(accuracy, thresholds.min_accuracy),
              f"held-out implicit accuracy {accuracy:.3f} < {thresholds.min_accuracy:.3f}",
              accuracy, ">=", thresholds.min_accuracy)  # fmt: skip
    drift = metrics.get("held_out_winner_drift")
    if drift is not None:
        limit = thresholds.max_winner_drift
        reason = f"winners' denoising error drifted {drift:+.3f} above the reference's (limit {limit})"
        check("winner_drift", math.isfinite(drift) and at_most(drift, limit), reason, drift, "<=", limit)
    judge, parent = metrics.get("judge_score"), metrics.get("judge_score_parent")
    if judge is not None and parent is not None:
        # Measured from the better of the parent and the base: drops within the tolerance must not
        # add up over a chain of rounds.
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
