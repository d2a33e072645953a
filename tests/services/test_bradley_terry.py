"""The arena's Bradley-Terry fit, on synthetic votes whose strengths are known."""

import numpy as np

from core.bradley_terry import Outcome, rank

TRUE = {1: 0.0, 2: 0.6, 3: 1.2, 4: -0.8}  # log-odds; checkpoint 1 is the anchor


def synthetic_votes(seed: int, per_pair: int = 60, tie_share: float = 0.15) -> list[Outcome]:
    rng = np.random.default_rng(seed)
    votes = []
    ids = sorted(TRUE)
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            p_a = 1 / (1 + np.exp(TRUE[b] - TRUE[a]))
            for _ in range(per_pair):
                if rng.random() < tie_share:
                    votes.append(Outcome(a, b, tie=True))
                else:
                    votes.append(Outcome(a, b) if rng.random() < p_a else Outcome(b, a))
    return votes


def test_the_fit_recovers_the_order_and_the_anchor_is_zero():
    ranking = rank(synthetic_votes(0), anchor=1, bootstrap=50)
    assert [s.checkpoint_id for s in ranking.ratings] == [3, 2, 1, 4]
    strengths = {s.checkpoint_id: s.strength for s in ranking.ratings}
    assert strengths[1] == 0.0
    assert all(abs(strengths[c] - TRUE[c]) < 0.5 for c in TRUE), strengths
    assert ranking.votes == 6 * 60 and all(s.votes == 3 * 60 for s in ranking.ratings)


def test_the_intervals_cover_the_truth_in_most_repeats():
    covered, total = 0, 0
    for seed in range(12):
        for s in rank(synthetic_votes(seed), anchor=1, bootstrap=100, seed=seed).ratings:
            if s.checkpoint_id == 1:
                continue  # the anchor is 0 by construction
            low, high = s.interval
            assert low <= s.strength <= high
            covered += low <= TRUE[s.checkpoint_id] <= high
            total += 1
    assert covered / total >= 0.8, (covered, total)


def test_ties_count_half_and_a_clean_sweep_stays_finite():
    even = rank([Outcome(1, 2, tie=True)] * 20, anchor=1, bootstrap=0)
    assert abs(even.ratings[0].strength) < 1e-6 and abs(even.ratings[1].strength) < 1e-6
    sweep = rank([Outcome(2, 1)] * 30, anchor=1, bootstrap=20)
    top = sweep.ratings[0]
    assert top.checkpoint_id == 2 and np.isfinite(top.strength) and top.strength > 1 and top.wins == 30
    assert rank([]).ratings == []
