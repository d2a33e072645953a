"""The pure rules that turn votes into preference pairs (core/preferences.py), without a database."""

from core.preferences import CastVote, is_held_out_pair, majority_pairs
from core.states import Choice

A, B = 10, 11  # the two generations of every comparison here


def vote(labeler: int, comparison: int, choice: Choice, winner: int | None = None) -> CastVote:
    latents = (f"{comparison}a", f"{comparison}b")
    return CastVote(labeler, comparison, choice, winner, f"prompt {comparison}", A, B, *latents)


def test_the_majority_of_decisive_votes_makes_one_pair_per_comparison():
    votes = [vote(1, 100, Choice.left, B), vote(2, 100, Choice.right, B), vote(3, 100, Choice.left, A),
             vote(1, 200, Choice.right, A)]  # fmt: skip
    found = majority_pairs(votes)
    assert [(p.comparison_id, p.winner_latents, p.loser_latents, p.votes_for, p.votes_against)
            for p in found.pairs] == [(100, "100b", "100a", 2, 1), (200, "200a", "200b", 1, 0)]  # fmt: skip
    assert found.counts["pairs"] == 2 and found.counts["comparisons"] == 2 and found.counts["votes"] == 4
    assert found.labeler_votes == {1: 2, 2: 1, 3: 1}


def test_splits_and_undecisive_votes_make_no_pair_but_are_counted():
    votes = [vote(1, 1, Choice.left, A), vote(2, 1, Choice.right, B),  # an even split
             vote(1, 2, Choice.tie), vote(2, 2, Choice.both_bad), vote(3, 2, Choice.skip)]  # fmt: skip
    found = majority_pairs(votes)
    assert found.pairs == []
    assert (found.counts["comparisons_split"], found.counts["comparisons_without_decisive_votes"]) == (1, 1)
    assert (found.counts["votes_tie"], found.counts["votes_both_bad"], found.counts["votes_skip"]) == (1, 1, 1)


def test_withheld_and_excluded_votes_are_counted_not_used():
    votes = [vote(1, 1, Choice.left, A), vote(2, 2, Choice.left, A), vote(3, 3, Choice.left, A),
             vote(4, 3, Choice.right, B)]  # fmt: skip
    found = majority_pairs(votes, withheld_pairs={1}, withheld_votes={(3, 4)}, excluded=frozenset({2}))
    assert [p.comparison_id for p in found.pairs] == [3]  # only labeler 3's vote on comparison 3 is left
    assert found.counts["votes_on_reported_pairs"] == 2 and found.counts["votes_excluded_quality"] == 1
    assert found.labeler_votes == {3: 1}


def test_the_held_out_split_is_stable_near_its_share_and_apart_per_source():
    held = [i for i in range(4000) if is_held_out_pair(i, 0.2)]
    assert held == [i for i in range(4000) if is_held_out_pair(i, 0.2)]  # every round holds out the same ones
    assert 0.17 < len(held) / 4000 < 0.23
    assert not any(is_held_out_pair(i, 0.0) for i in range(100)) and all(is_held_out_pair(i, 1.0) for i in range(100))
    assert {i for i in range(400) if is_held_out_pair(i, 0.2, "reward")} != set(held[:400]) & set(range(400))
