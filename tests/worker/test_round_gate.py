"""The gate's rules, one by one, on plain metric dictionaries."""

import math

import numpy as np

from worker.rounds.gate import GateThresholds, apply_gate

LIMITS = GateThresholds(min_accuracy=0.55, max_winner_drift=0.1, max_judge_drop=0.05)
HEALTHY = {"final_loss": 0.6, "held_out_implicit_accuracy": 0.7, "held_out_winner_drift": 0.01,
           "judge_score": 0.9, "judge_score_parent": 0.92}  # fmt: skip


def test_a_healthy_round_passes():
    result = apply_gate(HEALTHY, LIMITS)
    assert result.passed and result.reasons == [] and all(result.checks.values())
    accuracy = result.rules["accuracy"]  # what the console shows beside each rule
    assert accuracy == {"value": HEALTHY["held_out_implicit_accuracy"], "op": ">=", "limit": LIMITS.min_accuracy,
                        "passed": True}  # fmt: skip
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
