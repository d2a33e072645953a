"""Each campaign's labelers meet gold pairs of its own prompts and serving checkpoint, and a campaign's
quality figures count its labelers on its pairs, while standing stays the person's, judged on every
vote they gave (SQLite and Postgres)."""

import random

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from cli.main import cli
from core.db.models import Comparison, Generation
from core.db.session import session_scope
from core.services import campaigns, labeling, pool, prompts, quality
from core.settings import get_settings
from core.states import Choice, ComparisonKind, PromptSource
from tests.conftest import apply_settings
from tests.helpers.data import make_comparisons, make_labeler, serve
from tests.services import test_people_measure

any_db = test_people_measure.any_db  # the fixture: SQLite, then Postgres

SHAPES = ["a red circle", "a blue square", "a green triangle"]
HANDS = ["two hands", "a waving hand", "a fist on a table"]


def two_campaigns() -> tuple[int, int, int]:
    """default (closed: alice's) and hands (bob's), three prompts each; returns (hands id, alice, bob)."""
    campaigns.update("default", open_to_all=False)
    prompts.add_prompts(SHAPES, PromptSource.admin)
    hands = campaigns.create("hands", "Which hands look right?", open_to_all=False, by="root").id
    prompts.add_prompts(HANDS, PromptSource.admin, campaign="hands")
    alice, bob = make_labeler("alice")[0], make_labeler("bob")[0]
    campaigns.assign("default", alice, 1.0, by="root")
    campaigns.assign("hands", bob, 1.0, by="root")
    return hands, alice, bob


def fill() -> None:
    """What the generate worker does between two labeler requests: plan, render (here: nothing), record."""
    while (batch := pool.plan_next(get_settings())) is not None and batch.comparisons:
        pool.record_batch(batch, 1.0)


def gold_pairs() -> list[tuple[int, str, set[str]]]:
    """Every gold pair: (campaign id, caption shown, the prompts its two images were rendered from)."""
    with session_scope() as session:
        rows = session.execute(select(Comparison.campaign_id, Comparison.prompt, Comparison.generation_a_id,
                                      Comparison.generation_b_id).where(Comparison.kind == ComparisonKind.gold))
        return [(campaign_id, caption, {session.get(Generation, a).prompt, session.get(Generation, b).prompt})
                for campaign_id, caption, a, b in rows]  # fmt: skip


def test_each_campaigns_labelers_meet_gold_pairs_of_its_own_prompts(any_db, monkeypatch):
    apply_settings(monkeypatch, gold_rate=0.5, gold_pool_target=2, pool_target=2, pool_batch=2,
                   votes_per_comparison=1)  # fmt: skip
    hands, alice, bob = two_campaigns()
    fill()
    made = gold_pairs()
    # Two for each campaign: the base serves both, yet each has a stock of its own.
    assert sorted(campaign_id for campaign_id, _, _ in made) == [1, 1, hands, hands]
    for campaign_id, caption, rendered in made:
        own = HANDS if campaign_id == hands else SHAPES
        assert caption in own and rendered <= set(own), (campaign_id, caption, rendered)

    random.seed(7)  # the serving draw (gold or not) is the only use of the module's generator here
    met = {alice: [], bob: []}
    for _ in range(10):
        for labeler in (alice, bob):
            fill()
            shown = labeling.next_comparison(labeler, get_settings())
            with session_scope() as session:
                met[labeler].append((shown.campaign, session.get(Comparison, shown.id).kind))
            labeling.vote(shown.id, labeler, Choice.left, 1500, get_settings())
    assert {campaign for campaign, _ in met[alice]} == {"default"}
    assert {campaign for campaign, _ in met[bob]} == {"hands"}
    # At a rate of 0.5 each meets gold pairs, more than the first stock of 2: the stock follows its labelers.
    assert all(sum(kind == ComparisonKind.gold for _, kind in met[labeler]) >= 3 for labeler in (alice, bob)), met


def test_a_campaigns_figures_count_its_labelers_on_its_pairs_but_standing_counts_every_vote(any_db, monkeypatch):
    apply_settings(monkeypatch, quality_min_bias_votes=4, quality_max_side_bias=0.25, votes_per_comparison=3)
    hands, alice, bob = two_campaigns()
    carol = make_labeler("carol")[0]
    campaigns.assign("default", carol, 1.0, by="root")
    campaigns.assign("hands", carol, 1.0, by="root")

    def vote(comparison_id: int, labeler: int, choice: Choice) -> None:
        serve(comparison_id, labeler)
        labeling.vote(comparison_id, labeler, choice, 1500, get_settings())

    shapes, hand_pairs = make_comparisons(6, seed=1), make_comparisons(4, seed=2, campaign_id=hands)
    for i, comparison_id in enumerate(shapes):  # carol picks the left image in default, always
        vote(comparison_id, carol, Choice.left)
        vote(comparison_id, alice, (Choice.left, Choice.right)[i % 2])
    for i, comparison_id in enumerate(hand_pairs):  # and either side in hands
        vote(comparison_id, carol, (Choice.left, Choice.right)[i % 2])
        vote(comparison_id, bob, Choice.tie)

    everyone = {row.name: row for row in quality.quality(get_settings()).labelers}
    in_hands = {row.name: row for row in quality.quality(get_settings(), "hands").labelers}
    in_default = {row.name: row for row in quality.quality(get_settings(), "default").labelers}
    assert set(in_hands) == {"bob", "carol"} and set(in_default) == {"alice", "carol"}
    assert (everyone["carol"].votes, in_hands["carol"].votes, in_default["carol"].votes) == (10, 4, 6)
    assert (in_hands["carol"].side_bias, in_default["carol"].side_bias, everyone["carol"].side_bias) == (0.5, 1.0, 0.8)
    assert in_hands["bob"].tie_share == 1.0 and in_hands["bob"].decisive_votes == 0
    # Left in 8 of her 10 decisive votes: out of good standing in every report, hands' included, where
    # her 4 votes alone look even-handed (standing decides whether any of her votes trains).
    for report in (everyone, in_hands, in_default):
        assert not report["carol"].good_standing and report["carol"].reasons == ["chose left in 80% of decisive votes"]
    assert in_default["alice"].good_standing and in_hands["bob"].good_standing
    with pytest.raises(campaigns.UnknownCampaign):
        quality.quality(get_settings(), "nope")

    shown = CliRunner().invoke(cli, ["labelers", "quality", "--campaign", "hands"])
    assert shown.exit_code == 0 and "alpha, campaign hands" in shown.output, shown.output
    assert "bob" in shown.output and "carol" in shown.output and "alice" not in shown.output
    refused = CliRunner().invoke(cli, ["labelers", "quality", "--campaign", "nope"])
    assert refused.exit_code == 1 and "no campaign is named 'nope'" in refused.output
