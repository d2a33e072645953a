"""Votes per pair selection strategy on SQLite (the API test runs the same query on Postgres)."""

from core.services import labeling
from core.services.pairing_stats import pairing_votes
from core.settings import get_settings
from core.states import Choice
from tests.conftest import apply_settings
from tests.helpers.data import make_comparisons, make_labeler, serve


def test_votes_are_counted_per_strategy_with_passes_left_out_of_the_share(sqlite_db, monkeypatch):
    apply_settings(monkeypatch, votes_per_comparison=3)
    (uncertain,) = make_comparisons(1, seed=1, pairing="uncertain")
    random_pairs = make_comparisons(2, seed=2, pairing="random")
    alice, bob, carol = (make_labeler(name)[0] for name in ("alice", "bob", "carol"))
    bot = make_labeler("bot", ai=True)[0]
    for comparison, labeler, choice in [(uncertain, alice, Choice.left), (uncertain, bob, Choice.right),
                                        (uncertain, carol, Choice.skip), (random_pairs[0], alice, Choice.tie),
                                        (random_pairs[1], bob, Choice.both_bad), (random_pairs[1], bot, Choice.left)]:
        serve(comparison, labeler)
        labeling.vote(comparison, labeler, choice, 900, get_settings())
    first, second = pairing_votes(get_settings())
    assert (first.strategy, first.pairs, first.votes, first.decisive, first.skips) == ("uncertain", 1, 3, 2, 1)
    assert first.decisive_share == 1.0  # the pass is not an answer
    assert (second.strategy, second.pairs, second.votes, second.ties, second.both_bad) == ("random", 2, 2, 1, 1)
    assert second.decisive_share == 0.0  # the AI labeler's decisive vote does not count
