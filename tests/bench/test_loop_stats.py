"""The loop bench's figures: the distribution over repeats, votes to a target, paired differences
between training variants, and the prompt-following judge's change."""

import pytest

from bench.loop_stats import paired_differences, print_report, summarize, votes_to_reach


def run(votes: int, wins: int, losses: int, ties: int, seed: int = 0, variant: str = "default",
        judge: tuple[float, float, bool] | None = (0.90, 0.92, True), choices: dict | None = None) -> dict:  # fmt: skip
    pairs = wins + losses + ties
    round_out = {}
    if judge is not None:
        parent, score, passed = judge
        rules = {"judge": {"passed": passed}}
        round_out = {"judge_score_parent": parent, "judge_score": score, "gate": {"rules": rules}}
    return {"policy": "larger", "pairing": "random", "variant": variant, "seed": seed, "votes": votes, "wins": wins,
            "losses": losses, "ties": ties, "win_rate": (wins + ties / 2) / pairs, "round": round_out,
            "choices": choices or {}}  # fmt: skip


def test_summary_is_the_median_and_quartiles_over_repeats_with_wins_losses_and_ties_apart():
    runs = [run(100, 60, 20, 20, seed=0), run(100, 80, 10, 10, seed=1), run(100, 50, 30, 20, seed=2)]
    (row,) = summarize(runs)
    assert row["repeats"] == 3 and row["median"] == pytest.approx(0.70)  # 0.60, 0.70, 0.85
    assert row["iqr"] == pytest.approx((0.65, 0.775))
    assert (row["wins"], row["losses"], row["ties"]) == (190, 60, 50)
    assert row["decided_won"] == pytest.approx(190 / 250)
    assert row["judge_change"] == pytest.approx(0.02) and (row["judge_passed"], row["judged"]) == (3, 3)


def test_the_judge_column_counts_drops_beyond_the_gate_and_rounds_without_a_judge():
    runs = [run(100, 60, 20, 20, seed=0, judge=(0.9, 0.7, False)), run(100, 60, 20, 20, seed=1, judge=None),
            run(100, 60, 20, 20, seed=2, judge=(0.9, 0.85, True))]  # fmt: skip
    (row,) = summarize(runs)
    assert (row["judge_passed"], row["judged"]) == (1, 2)  # the round without a judge is not counted
    assert row["judge_change"] == pytest.approx(-0.125)  # median of −0.2 and −0.05
    (unjudged,) = summarize([run(100, 60, 20, 20, judge=None) | {"round": {"gate": None}}])
    assert (unjudged["judged"], unjudged["judge_change"]) == (0, None)


def test_the_report_prints_every_series_and_the_paired_differences(capsys):
    runs = [run(400, 60, 20, 20, seed=0), run(400, 70, 10, 20, seed=0, variant="full", judge=None)]
    print_report(runs)
    out = capsys.readouterr().out
    assert "larger    random                  400     1   70.0%" in out and "+0.020     1/1" in out
    assert "random/full" in out and "n/a" in out
    assert "at 400 votes, full − default on the same votes: median +10.0%, better in 1, worse in 0 of 1" in out


def test_votes_to_reach_interpolates_between_the_budgets_around_the_target():
    rows = summarize([run(100, 50, 30, 20), run(200, 70, 20, 10), run(400, 80, 10, 10)])  # 0.60, 0.75, 0.85
    assert votes_to_reach(rows, 0.70) == {("larger", "random"): pytest.approx(100 + (0.70 - 0.60) / 0.15 * 100)}
    assert votes_to_reach(rows, 0.55) == {("larger", "random"): 100.0}  # reached at the first budget
    assert votes_to_reach(rows, 0.90) == {("larger", "random"): None}


def test_paired_differences_compare_each_variant_with_the_default_on_the_same_seed_and_budget():
    runs = [run(400, 60, 20, 20, seed=0), run(400, 70, 10, 20, seed=0, variant="full"),
            run(400, 80, 10, 10, seed=1), run(400, 75, 15, 10, seed=1, variant="full"),
            run(400, 90, 5, 5, seed=2, variant="full")]  # no default for seed 2: not compared  # fmt: skip
    (d,) = paired_differences(runs)
    assert d["variant"] == "full" and d["repeats"] == 2 and (d["better"], d["worse"]) == (1, 1)
    assert d["differences"] == pytest.approx([0.10, -0.05])


def test_the_labelers_decisive_share_leaves_passes_out_and_is_a_median_over_repeats():
    runs = [run(100, 60, 20, 20, seed=0, choices={"left": 40, "right": 35, "tie": 20, "both_bad": 5, "skip": 10}),
            run(100, 60, 20, 20, seed=1, choices={"left": 30, "right": 30, "tie": 40}),
            run(100, 60, 20, 20, seed=2, choices={"left": 45, "right": 45, "tie": 10})]  # fmt: skip
    (row,) = summarize(runs)
    assert row["labeler_decisive"] == pytest.approx(0.75)  # 0.75 (75 of 100 answered), 0.60, 0.90
    (unrecorded,) = summarize([run(100, 60, 20, 20)])
    assert unrecorded["labeler_decisive"] is None


def test_the_judge_change_is_against_the_base_where_a_chained_round_started_elsewhere():
    chained = run(400, 60, 20, 20, judge=(0.88, 0.86, True)) | {"judge_score_base": 0.92}  # parent: last budget's
    (row,) = summarize([chained])
    assert row["judge_change"] == pytest.approx(-0.06)


def test_a_judge_recorded_failing_exactly_at_its_limit_counts_as_within_the_gate():
    def at(value: float, limit: float, passed: bool) -> dict:
        rules = {"judge": {"value": value, "limit": limit, "passed": passed}}
        round_out = {"judge_score": value, "judge_score_parent": 0.925, "gate": {"rules": rules}}
        return run(400, 60, 20, 20) | {"round": round_out}

    runs = [at(0.875, 0.8750000000000001, False), at(0.86, 0.8750000000000001, False), at(0.9, 0.875, True)]
    (row,) = summarize(runs)
    assert (row["judge_passed"], row["judged"]) == (2, 3)  # the last bit is not a drop; 0.86 is


def test_reward_variants_report_their_preference_models_accuracy_and_pairs_used(capsys):
    runs = [run(200, 40, 20, 4, seed=s, variant="reward") | {"reward_model": {"held_out_accuracy": acc},
                                                             "round": {"reward_pairs": {"used": used}}}
            for s, (acc, used) in enumerate([(0.70, 120), (0.80, 200), (0.75, 160)])]  # fmt: skip
    (row,) = summarize(runs)
    assert row["reward_accuracy"] == 0.75 and row["reward_pairs_used"] == 160
    print_report(runs)
    printed = capsys.readouterr().out
    assert "preference model held-out accuracy 75.0% (median), reward pairs used 160 (median)" in printed
    assert summarize([run(200, 40, 20, 4)])[0]["reward_accuracy"] is None  # a variant without it
