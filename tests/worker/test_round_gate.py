"""The gate's rules, one by one, on plain metric dictionaries."""

import math

import numpy as np
import pytest
from scipy import stats

from worker.rounds.gate import GateThresholds, apply_gate

LIMITS = GateThresholds(min_accuracy=0.55, max_winner_drift=0.1, max_judge_drop=0.05)
HEALTHY = {"final_loss": 0.6, "held_out_implicit_accuracy": 0.7, "held_out_winner_drift": 0.01,
           "judge_score": 0.9, "judge_score_parent": 0.92}  # fmt: skip


def test_a_healthy_round_passes():
    result = apply_gate(HEALTHY, LIMITS)
    assert result.passed and result.reasons == [] and all(result.checks.values())
    accuracy = result.rules["accuracy"]  # what the console shows beside each rule
    # A value recorded without its pairs is its own interval.
    assert accuracy == {"value": HEALTHY["held_out_implicit_accuracy"], "op": ">=", "limit": LIMITS.min_accuracy,
                        "passed": True, "low": 0.7, "high": 0.7, "pairs": None, "confidence": 0.95}  # fmt: skip
    assert set(result.rules) == set(result.checks)
    assert result.summary() == "passed the gate"


def test_each_rule_fails_on_its_own():
    cases = {
        "finite_loss": {"final_loss": math.nan},
        "accuracy": {"held_out_implicit_accuracy": 0.5},
        "winner_drift": {"held_out_winner_drift": 0.3},
        "judge": {"judge_score": 0.8},
    }
    for check, change in cases.items():
        result = apply_gate(HEALTHY | change, LIMITS)
        assert not result.passed and result.checks[check] is False, check
        assert [k for k, ok in result.checks.items() if not ok] == [check]
        assert len(result.reasons) == 1


def test_the_collapse_signature_fails_although_accuracy_is_high():
    # The measured collapse (docs/what-the-code-relies-on.md):
    # accuracy 0.91 and a falling loss, but the winners got worse than under the reference.
    collapsed = HEALTHY | {"held_out_implicit_accuracy": 0.91, "final_loss": 0.37, "held_out_winner_drift": 0.4}
    result = apply_gate(collapsed, LIMITS)
    assert not result.passed and "drifted" in result.summary()


def test_no_held_out_pairs_fails_and_a_missing_judge_is_skipped():
    result = apply_gate({"final_loss": 0.5}, LIMITS)
    assert not result.passed and "held-out" in result.reasons[0]
    no_judge = {k: v for k, v in HEALTHY.items() if not k.startswith("judge")}
    assert apply_gate(no_judge, LIMITS).passed and "judge" not in apply_gate(no_judge, LIMITS).checks


def test_judge_drops_cannot_add_up_over_rounds():
    # Each round within the tolerance of its parent, but together 0.07 below the base: refused.
    chained = HEALTHY | {"judge_score_base": 0.95, "judge_score_parent": 0.91, "judge_score": 0.88}
    result = apply_gate(chained, LIMITS)
    assert not result.passed and "the base" in result.reasons[0]
    # A parent better than the base is the bar itself.
    assert apply_gate(HEALTHY | {"judge_score_base": 0.80}, LIMITS).passed
    assert not apply_gate(HEALTHY | {"judge_score_base": 0.80, "judge_score": 0.86}, LIMITS).passed


def test_a_drop_of_exactly_the_tolerance_passes_whatever_the_last_bit():
    # Means of per-image scores carry float error: a parent measured at 0.9250000000000002
    # put the bar at 0.8750000000000001, and a round measured at exactly 0.875 failed by the last bit.
    exact = HEALTHY | {"judge_score_parent": 0.9250000000000002, "judge_score": 0.875}
    assert apply_gate(exact, LIMITS).passed and apply_gate(exact, LIMITS).rules["judge"]["limit"] == 0.875
    assert not apply_gate(exact | {"judge_score": 0.8749}, LIMITS).passed
    float32_seven_tenths = float(np.float32(0.7))  # 0.699999988079071, as the trainer's .mean().item() gives
    strict = GateThresholds(min_accuracy=0.7, max_winner_drift=0.1, max_judge_drop=0.05)
    assert apply_gate(HEALTHY | {"held_out_implicit_accuracy": float32_seven_tenths}, strict).passed
    assert not apply_gate(HEALTHY | {"held_out_implicit_accuracy": 0.69}, strict).passed
    assert apply_gate(HEALTHY | {"held_out_winner_drift": 1.1 / 1.0 - 1}, LIMITS).passed  # 0.10000000000000009


# Held-out statistics with intervals: per-pair values (each pair's noise draws averaged) under
# "<statistic>_by_pair", as the trainer's held-out evaluation records them.
def with_pairs(accuracy: list[float] | None = None, drift: list[float] | None = None) -> dict:
    metrics = dict(HEALTHY)
    if accuracy is not None:
        metrics |= {"held_out_implicit_accuracy": float(np.mean(accuracy)),
                    "held_out_implicit_accuracy_by_pair": accuracy}  # fmt: skip
    if drift is not None:
        metrics |= {"held_out_winner_drift": float(np.mean(drift)), "held_out_winner_drift_by_pair": drift}
    return metrics


def test_fourteen_of_twenty_six_is_noise_not_failure():
    # The round from issue 25: 400 careful votes, 26 held out, 14 ranked right under one draw each:
    # 0.538 < 0.55 rejected it, with a standard error near 0.1. Its interval reaches well past 0.55.
    result = apply_gate(with_pairs(accuracy=[1.0] * 14 + [0.0] * 12), LIMITS)
    assert result.passed, result.reasons
    rule = result.rules["accuracy"]
    assert rule["value"] == pytest.approx(14 / 26) and rule["pairs"] == 26 and rule["confidence"] == 0.95
    sem = np.std([1.0] * 14 + [0.0] * 12, ddof=1) / np.sqrt(26)
    low, high = stats.t.interval(0.95, 25, loc=14 / 26, scale=sem)  # Student's t over the 26 pairs
    assert (rule["low"], rule["high"]) == (pytest.approx(low), pytest.approx(high))
    assert rule["low"] < LIMITS.min_accuracy < rule["high"]
    # The same pairs under eight draws each (pair means k/8): tighter, and still no evidence of failure.
    eight = [7 / 8, 5 / 8, 6 / 8, 4 / 8, 5 / 8, 3 / 8, 6 / 8] * 2 + [4 / 8, 3 / 8, 5 / 8, 2 / 8] * 3
    assert np.mean(eight) < LIMITS.min_accuracy and apply_gate(with_pairs(accuracy=eight), LIMITS).passed


def test_a_collapsed_round_still_fails_its_accuracy():
    # 5 of 26 pairs ranked right, and each pair's eight draws agree: far below, whatever the noise.
    collapsed = [1.0, 7 / 8, 1.0, 7 / 8, 1.0] + [0.0, 1 / 8] * 10 + [0.0]
    result = apply_gate(with_pairs(accuracy=collapsed), LIMITS)
    assert not result.passed and result.checks["accuracy"] is False
    rule = result.rules["accuracy"]
    assert rule["high"] < LIMITS.min_accuracy and rule["pairs"] == 26
    assert "implicit accuracy" in result.reasons[0] and "95% interval" in result.reasons[0]


def test_drift_fails_only_when_its_whole_interval_lies_above_the_limit():
    around = np.linspace(-1, 1, 26)  # spread evenly, standard deviation 0.6
    far = list(0.8 + 0.1 * around)  # the measured full fine-tune collapse drifted 0.80
    result = apply_gate(with_pairs(drift=far), LIMITS)
    assert not result.passed and result.rules["winner_drift"]["low"] > LIMITS.max_winner_drift
    assert "drifted" in result.summary() and "over 26 pairs" in result.summary()
    # Just above the limit on average, but pairs spread from below to above it: not evidence of collapse.
    spread = list(0.13 + 0.25 * around)
    rule = apply_gate(with_pairs(drift=spread), LIMITS).rules["winner_drift"]
    assert rule["value"] > LIMITS.max_winner_drift and rule["low"] < LIMITS.max_winner_drift and rule["passed"]
    # A pair whose drift is not finite fails the rule, written as its name for JSON.
    broken = apply_gate(with_pairs(drift=[0.01] * 25 + [math.inf]), LIMITS)
    assert not broken.passed and broken.rules["winner_drift"]["value"] == "inf"


def test_the_confidence_setting_widens_or_narrows_the_interval():
    pairs = [1.0] * 12 + [0.0] * 14  # 0.46
    loose = GateThresholds(0.55, 0.1, 0.05, confidence=0.5)
    assert not apply_gate(with_pairs(accuracy=pairs), loose).passed
    assert apply_gate(with_pairs(accuracy=pairs), LIMITS).passed
    wide, narrow = (apply_gate(with_pairs(accuracy=pairs), t).rules["accuracy"] for t in (LIMITS, loose))
    assert wide["low"] < narrow["low"] < narrow["high"] < wide["high"]


def test_one_held_out_pair_is_judged_on_its_value_and_none_fails():
    # One pair has no spread to measure: no benefit of the doubt, its value against the limit as before.
    one = apply_gate(with_pairs(accuracy=[0.5], drift=[0.3]), LIMITS)
    assert not one.passed and [k for k, ok in one.checks.items() if not ok] == ["accuracy", "winner_drift"]
    assert one.rules["accuracy"] == {"value": 0.5, "op": ">=", "limit": 0.55, "passed": False, "low": 0.5,
                                          "high": 0.5, "pairs": 1, "confidence": 0.95}  # fmt: skip
    assert "1 pair: no interval" in one.reasons[0]
    assert apply_gate(with_pairs(accuracy=[0.625], drift=[0.05]), LIMITS).passed
    none = apply_gate(HEALTHY | {"held_out_implicit_accuracy_by_pair": [], "held_out_winner_drift_by_pair": []}, LIMITS)
    assert not none.passed and none.reasons == ["no held-out pairs to measure implicit accuracy on"]


def test_the_preference_model_rule_fails_only_a_checkpoint_it_clearly_finds_worse():
    clearly_worse = [1.0] * 6 + [0.0] * 26  # 6 of 32 same-seed pairs: the interval's top is far below ½
    result = apply_gate(HEALTHY | {"reward_win_rate": 6 / 32, "reward_win_rate_by_pair": clearly_worse,
                                   "reward_version": 3}, LIMITS)  # fmt: skip
    assert [k for k, ok in result.checks.items() if not ok] == ["reward"]
    assert result.reasons == ["the preference model (v3) prefers it to its parent in only 0.188 (95% interval "
                              "0.045 to 0.330 over 32 pairs) of same-seed pairs (limit 0.500)"]  # fmt: skip
    uncertain = [1.0] * 13 + [0.0] * 19  # 13 of 32: below ½, but not clearly
    assert apply_gate(HEALTHY | {"reward_win_rate": 13 / 32, "reward_win_rate_by_pair": uncertain}, LIMITS).passed
    assert "reward" not in apply_gate(HEALTHY, LIMITS).checks  # no preference model: no rule
