"""The labelers' verdict on a candidate (core/verdict.py), on synthetic vote streams whose true win rate
is known. Each simulation is 2,000 seeded streams read to the cap; an error rate measured on n streams
has binomial sd √(α(1 − α)/n) (0.0049 at α = 0.05), so "≤ α" is asserted with three sd to spare."""

import math

import numpy as np
import pytest
from pydantic import ValidationError

from core.settings import Settings
from core.verdict import (
    PROMOTED,
    REJECTED,
    UNDECIDED,
    Outcome,
    State,
    VerdictRule,
    bound_paths,
    confidence_bounds,
    decide,
    judge,
    scores,
    votes_needed,
)

RULE = VerdictRule()  # the settings' defaults: α = β = 0.05, margin 0.1, cap 400
STREAMS = 2000


def streams(seed: int, rate: float, tie: float, n: int = STREAMS, votes: int = RULE.max_votes) -> np.ndarray:
    """n streams of scores (loss 0, tie ½, win 1) with mean `rate` and a share `tie` of ties."""
    win = rate - tie / 2
    return np.random.default_rng(seed).choice([0.0, 0.5, 1.0], p=[1 - tie - win, tie, win], size=(n, votes))


def tolerance(rate: float, n: int = STREAMS) -> float:
    return 3 * math.sqrt(rate * (1 - rate) / n)


def test_a_tie_counts_half_and_both_bad_or_skip_are_not_votes():
    votes = ["win", "both_bad", "tie", "skip", "loss", Outcome.tie, "skip"]
    assert scores(votes).tolist() == [1.0, 0.5, 0.0, 0.5]
    verdict = judge(votes, RULE)
    assert (verdict.wins, verdict.losses, verdict.ties, verdict.votes) == (1, 1, 2, 4)
    assert judge(["both_bad", "skip"] * 50, RULE) == judge([], RULE)  # 100 non-votes leave it where it started
    with pytest.raises(ValueError):
        scores(["left"])  # a labeler's side, not the candidate's outcome: the caller must translate it


def test_no_votes_is_judging_with_the_widest_bounds():
    verdict = judge([], RULE)
    assert verdict.state == State.judging and verdict.votes == 0
    assert verdict.bounds == (0.0, 1.0) and verdict.votes_needed_estimate == RULE.max_votes


@pytest.mark.parametrize(("rate", "tie"), [(0.5, 0.4), (0.5, 0.0), (0.48, 0.4)])
def test_a_candidate_no_better_is_promoted_at_most_at_the_false_promotion_rate(rate, tie):
    code, _ = decide(streams(1, rate, tie), RULE)
    assert (code == PROMOTED).mean() <= RULE.alpha + tolerance(RULE.alpha)


def test_the_false_promotion_rate_is_the_setting():
    rule = VerdictRule(alpha=0.2)
    strict, loose = ((decide(streams(2, 0.5, 0.4), r)[0] == PROMOTED).mean() for r in (RULE, rule))
    assert loose <= rule.alpha + tolerance(rule.alpha)
    assert loose > strict  # a looser setting buys promotions: the setting is what decides


def test_the_simulation_would_catch_a_fixed_n_test_peeked_at_after_every_vote():
    """The same streams under a one-sided z-test at 95% read after every vote promote a no-better candidate
    far more often than 5%: the simulation above can tell a valid rule from an invalid one."""
    x = streams(1, 0.5, 0.4)
    n = np.arange(1, x.shape[1] + 1)
    mean = np.cumsum(x, axis=1) / n
    sd = np.sqrt(np.maximum(np.cumsum(x**2, axis=1) / n - mean**2, 1e-12))
    peeked = ((mean - 1.645 * sd / np.sqrt(n) > 0.5)[:, 9:]).any(axis=1).mean()  # from the 10th vote on
    assert peeked > 3 * RULE.alpha


@pytest.mark.parametrize("tie", [0.0, 0.4])
def test_a_candidate_at_65_percent_is_promoted_in_a_median_of_at_most_150_votes(tie):
    code, votes = decide(streams(3, 0.65, tie), RULE)
    assert (code == PROMOTED).mean() >= 0.98
    assert np.median(votes) <= 150


@pytest.mark.parametrize("tie", [0.0, 0.4])
def test_a_worse_candidate_is_rejected(tie):
    code, votes = decide(streams(4, 0.35, tie), RULE)
    assert (code == REJECTED).mean() >= 0.99 and np.median(votes) <= 60


def test_a_candidate_exactly_as_good_is_rejected_before_the_cap_mostly():
    code, votes = decide(streams(5, 0.5, 0.4), RULE)
    assert (code == REJECTED).mean() >= 0.9 and np.median(votes) <= 150


def test_a_candidate_better_by_the_margin_is_rejected_at_most_at_the_false_rejection_rate():
    code, _ = decide(streams(6, RULE.reject_point, 0.4), RULE)
    assert (code == REJECTED).mean() <= RULE.beta + tolerance(RULE.beta)


def test_at_the_cap_with_no_decision_the_verdict_is_undecided():
    rule = VerdictRule(max_votes=30)
    verdict = judge(["win", "loss", "tie"] * 20, rule)
    assert verdict.state == State.undecided and verdict.votes == 30 and verdict.votes_needed_estimate is None
    assert judge(["win", "loss", "tie"] * 9, rule).state == State.judging


@pytest.mark.parametrize(("rate", "state"), [(0.7, State.promoted), (0.3, State.rejected)])
def test_a_decision_is_final_and_its_bounds_say_why(rate, state):
    outcomes = [{1.0: "win", 0.5: "tie", 0.0: "loss"}[v] for v in streams(7, rate, 0.3, n=1)[0]]
    verdicts = [judge(outcomes[:n], RULE) for n in range(0, 120)]
    decided = next(i for i, v in enumerate(verdicts) if v.state != State.judging)
    assert verdicts[decided].state == state
    assert all(v == verdicts[decided] for v in verdicts[decided:])  # later votes are not read
    assert all(v.votes_needed_estimate >= 1 for v in verdicts[:decided])
    lows, highs = zip(*(v.bounds for v in verdicts), strict=True)
    assert all(a <= b for a, b in zip(lows, lows[1:], strict=False)) and all(
        a >= b for a, b in zip(highs, highs[1:], strict=False)
    )  # a running intersection: the interval only narrows
    before, at = verdicts[decided - 1].bounds, verdicts[decided].bounds
    if state == State.promoted:
        assert before[0] < 0.5 <= at[0]
    else:
        assert before[1] > RULE.reject_point >= at[1]


@pytest.mark.parametrize("rate", [0.4, 0.5, 0.55, 0.6, 0.7])
def test_promotion_is_the_lower_bound_reaching_one_half_and_rejection_the_upper_reaching_the_margin(rate):
    """At every vote of every stream the state agrees with the bounds: the first vote at which the lower bound
    reaches ½ is the promotion, the first at which the upper falls to ½ + margin the rejection."""
    x = streams(9, rate, 0.3, n=30)
    code, votes = decide(x, RULE)
    for stream, state, used in zip(x, code, votes, strict=True):
        lower, upper = bound_paths(stream, RULE)
        crossings = {PROMOTED: np.flatnonzero(lower >= 0.5), REJECTED: np.flatnonzero(upper <= RULE.reject_point)}
        firsts = {c: int(v[0]) + 1 for c, v in crossings.items() if len(v)}
        if not firsts:
            assert state == UNDECIDED and used == RULE.max_votes
        else:
            assert (state, used) == min(firsts.items(), key=lambda item: item[1])


@pytest.mark.parametrize("rate", [0.65, 0.35])
def test_the_votes_needed_estimate_is_a_rough_guide(rate):
    """The estimate after 20 votes is, in the median over streams, within a factor of three of the votes
    the rule went on to take."""

    x = streams(10, rate, 0.4, n=300)
    _, votes = decide(x, RULE)
    ratios = [votes_needed(s[:20], RULE) / (v - 20) for s, v in zip(x, votes, strict=True) if v > 20]
    assert len(ratios) > 50 and 1 / 3 <= np.median(ratios) <= 3


def test_the_bounds_hold_the_true_win_rate_at_every_vote_at_once():
    """The bounds are confidence sequences: over 300 streams read to the cap, the lower bound passed the
    truth at some vote in at most α of them, the upper in at most β."""

    rate = 0.57
    x = streams(8, rate, 0.4, n=300)
    bounds = np.array([confidence_bounds(s, RULE) for s in x])  # each the running best over all 400 votes
    assert (bounds[:, 0] > rate).mean() <= RULE.alpha + tolerance(RULE.alpha, 300)
    assert (bounds[:, 1] < rate).mean() <= RULE.beta + tolerance(RULE.beta, 300)
    assert np.median(bounds[:, 1] - bounds[:, 0]) < 0.2  # and they are informative


def test_the_settings_make_the_rule_and_refuse_nonsense():
    rule = VerdictRule.from_settings(Settings(verdict_alpha=0.01, verdict_max_votes=250))
    assert (rule.alpha, rule.beta, rule.margin, rule.max_votes) == (0.01, 0.05, 0.1, 250)
    for bad in ({"verdict_alpha": 0}, {"verdict_beta": 0.7}, {"verdict_margin": 0}, {"verdict_max_votes": 0}):
        with pytest.raises(ValidationError):
            Settings(**bad)
    with pytest.raises(ValueError):
        VerdictRule(alpha=1.5)
