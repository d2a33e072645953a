"""Each campaign has its own prompts, pool pairs and votes, on SQLite and Postgres: the pool fills the
campaign that lacks most from its own prompts, a labeler is served pairs only from their campaigns (in
proportion to their shares), a vote outside one's campaigns is refused, and default's rounds and preference
model read only the default campaign's votes (another's rounds: test_campaign_lineage.py), a promotion in
default leaves the others' pools alone, and an export holds one campaign's."""

import json
import random
from collections import Counter

import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, select, update

from core.db.models import Checkpoint, Comparison, Vote
from core.db.session import session_scope
from core.repo.checkpoints import promote
from core.repo.preferences import collect_preferences
from core.repo.rounds import new_decisive_comparisons
from core.services import campaigns, labeling, pool, prompts
from core.services.export import ExportFilter, write_export
from core.settings import get_settings
from core.states import BASE_CHECKPOINT_ID, CheckpointStatus, Choice, ComparisonState, PromptSource
from tests.api.test_evaluations_api import new_checkpoint
from tests.conftest import apply_settings
from tests.helpers.data import make_comparisons, make_labeler, serve
from tests.services import test_people_measure

any_db = test_people_measure.any_db  # the fixture: SQLite, then Postgres


def campaign_id(name: str) -> int:
    with session_scope() as session:
        return campaigns.by_name(session, name).id


def served_campaigns(labeler_id: int, times: int) -> Counter:
    """The campaigns of the pairs a labeler is served, asking `times` times without voting."""
    settings = get_settings()
    seen, handles = Counter(), []
    for _ in range(times):
        shown = labeling.next_comparison(labeler_id, settings, exclude=handles)
        if shown is None:
            break
        handles.append(shown.handle)
        seen[shown.campaign] += 1
    return seen


def test_each_campaign_has_its_own_prompts(any_db):
    campaigns.create("hands", "", open_to_all=False, by="root")
    assert prompts.add_prompts(["a red circle", "a blue square"], PromptSource.admin) == (2, 0)
    # The same text in another campaign is another prompt; a repeat within one is skipped.
    assert prompts.add_prompts(["a red circle", "two hands"], PromptSource.admin, campaign="hands") == (2, 0)
    assert prompts.add_prompts(["two hands"], PromptSource.admin, campaign="hands") == (0, 1)
    assert sorted(p.prompt.text for p in prompts.list_prompts(campaign="hands")) == ["a red circle", "two hands"]
    assert sorted(p.prompt.text for p in prompts.list_prompts()) == ["a blue square", "a red circle"]
    with pytest.raises(campaigns.UnknownCampaign):
        prompts.list_prompts(campaign="nope")
    # Each campaign has its own evaluation set: its candidates are rendered on it.
    prompts.add_prompts(["two open hands"], PromptSource.admin, for_eval=True, campaign="hands")
    (hand,) = [p.prompt.id for p in prompts.list_prompts(campaign="hands") if p.prompt.text == "two hands"]
    prompts.update_prompt(hand, for_eval=True)
    prompts.add_prompts(["a small red circle"], PromptSource.admin, for_eval=True)
    assert prompts.evaluation_prompts(campaigns.get("hands").id) == ["two hands", "two open hands"]
    assert prompts.evaluation_prompts() == ["a small red circle"]
    assert (campaigns.get("default").prompts, campaigns.get("hands").prompts) == (2, 1)  # pool prompts
    campaigns.archive("hands")
    with pytest.raises(campaigns.CampaignRefused, match="archived"):
        prompts.add_prompts(["more hands"], PromptSource.admin, campaign="hands")


def test_the_pool_fills_the_campaign_that_lacks_most_from_its_own_prompts(any_db, monkeypatch):
    # Each campaign's pairs are ranked by its own preference model: none has trained, so they are diverse.
    apply_settings(monkeypatch, pool_target=2, pool_batch=2, pairing="reward", pairing_random_share=0.0)
    settings = get_settings()
    prompts.add_prompts(["a red circle"], PromptSource.admin)
    make_comparisons(2)  # the default campaign's pool is full
    campaigns.create("hands", "", open_to_all=False, by="root")
    prompts.add_prompts(["two hands", "a waving hand"], PromptSource.admin, campaign="hands")
    assert pool.plan_batch(settings) is None  # nobody labels "hands" yet: no pairs are made for it

    alice, _ = make_labeler("alice")
    campaigns.assign("hands", alice, 1.0, by="root")
    batch = pool.plan_batch(settings)
    assert batch.campaign_id == campaign_id("hands") and batch.checkpoint.id == BASE_CHECKPOINT_ID
    assert {p.prompt for p in batch.comparisons} <= {"two hands", "a waving hand"} and len(batch.comparisons) == 1
    assert {p.pairing for p in batch.comparisons} == {"diverse"}
    pool.record_batch(batch, per_image_ms=5.0)
    second = pool.plan_batch(settings)
    assert second.campaign_id == campaign_id("hands") and len(second.comparisons) == 1  # 1 ready of 2
    pool.record_batch(second, per_image_ms=5.0)
    assert pool.plan_batch(settings) is None  # both pools full
    assert served_campaigns(alice, 10) == {"default": 2, "hands": 2}


def test_labelers_are_served_only_their_campaigns_pairs_in_proportion_to_their_shares(any_db):
    campaigns.create("hands", "", open_to_all=False, by="root")
    alice, _ = make_labeler("alice")
    bob, _ = make_labeler("bob")
    campaigns.assign("hands", alice, 0.25, by="root")
    make_comparisons(3)
    make_comparisons(3, seed=1, campaign_id=campaign_id("hands"))
    assert served_campaigns(bob, 10) == {"default": 3}  # he holds them now
    make_comparisons(2, seed=2)
    assert served_campaigns(alice, 10) == {"default": 2, "hands": 3}  # an empty pool never leaves one waiting

    # The first campaign looked in is drawn by share: 1 (default, open to all) against 0.25.
    with session_scope() as session:
        rng = random.Random(0)
        firsts = Counter(campaigns.draw_order(session, alice, rng)[0][0] for _ in range(4000))
        assert [c for c, _ in campaigns.draw_order(session, alice, rng)] in ([1, campaign_id("hands")],
                                                                             [campaign_id("hands"), 1])  # fmt: skip
        assert campaigns.draw_order(session, bob, rng) == [(1, BASE_CHECKPOINT_ID)]
    assert 0.17 < firsts[campaign_id("hands")] / 4000 < 0.23  # 0.25 / 1.25 = 0.2

    # A closed default campaign leaves it to those assigned to it; someone in no campaign gets nothing.
    campaigns.update("default", open_to_all=False)
    assert [m.name for m in campaigns.campaigns_of(alice)] == ["hands"]
    assert labeling.next_comparison(bob, get_settings()) is None


def test_a_vote_outside_ones_campaigns_is_refused_and_a_recorded_one_stays(any_db):
    settings = get_settings()
    campaigns.create("hands", "", open_to_all=False, by="root")
    alice, _ = make_labeler("alice")
    campaigns.assign("hands", alice, 1.0, by="root")
    first, second = make_comparisons(2, campaign_id=campaign_id("hands"))
    serve(first, alice)
    serve(second, alice)
    assert labeling.vote(first, alice, Choice.left, 900, settings).created
    campaigns.unassign("hands", alice)  # while the second pair is on her screen
    with pytest.raises(campaigns.NotInCampaign, match="not a labeler of campaign 'hands'"):
        labeling.vote(second, alice, Choice.left, 900, settings)
    with session_scope() as session:
        assert session.scalar(select(func.count(Vote.id)).where(Vote.comparison_id == first)) == 1


def votes_in_two_campaigns(ours: int, theirs: int) -> tuple[list[int], list[int]]:
    """A labeler's votes on `ours` pairs of default and `theirs` of an open campaign "hands"."""
    campaigns.create("hands", "", open_to_all=True, by="root")
    alice, _ = make_labeler("alice")
    mine, other = make_comparisons(ours), make_comparisons(theirs, seed=1, campaign_id=campaign_id("hands"))
    for comparison in mine + other:
        serve(comparison, alice)
        labeling.vote(comparison, alice, Choice.left, 900, get_settings())
    return mine, other


def test_default_rounds_and_the_preference_model_read_only_default_votes(any_db):
    ours, _ = votes_in_two_campaigns(2, 3)
    with session_scope() as session:
        assert new_decisive_comparisons(session) == 2
        assert {pair.comparison_id for pair in collect_preferences(session).pairs} == set(ours)


def test_an_export_holds_one_campaigns_votes(any_db, tmp_path):
    settings = get_settings()
    ours, theirs = votes_in_two_campaigns(2, 1)
    write_export(settings, tmp_path / "default", ExportFilter())
    write_export(settings, tmp_path / "hands", ExportFilter(campaign="hands"))
    exported = {name: [row["comparison_id"] for row in pq.read_table(sorted((tmp_path / name).glob("pairs-*")))
                       .to_pylist()] for name in ("default", "hands")}  # fmt: skip
    assert exported == {"default": ours, "hands": theirs}
    assert json.loads((tmp_path / "hands" / "export.json").read_text())["filters"]["campaign"] == "hands"
    with pytest.raises(campaigns.UnknownCampaign):
        write_export(settings, tmp_path / "nope", ExportFilter(campaign="nope"))



def test_a_promotion_in_default_leaves_another_campaigns_pool_as_it_is(any_db, tmp_path):
    campaigns.create("hands", "", open_to_all=True, by="root")
    hands = campaign_id("hands")
    ours = make_comparisons(2)
    theirs = make_comparisons(2, seed=1, campaign_id=hands)
    new = new_checkpoint(tmp_path, "new")
    with session_scope() as session:
        promote(session, new, by="test")
    with session_scope() as session:
        states = dict(session.execute(select(Comparison.id, Comparison.state)).all())
        assert campaigns.serving_checkpoints(session) == {"default": new, "hands": BASE_CHECKPOINT_ID}
    assert [states[c] for c in ours] == [ComparisonState.retired] * 2  # drawn from what served before
    assert [states[c] for c in theirs] == [ComparisonState.ready] * 2  # drawn from hands' own checkpoint


def test_a_campaign_whose_checkpoint_cannot_serve_does_not_stop_the_others_pools(any_db, monkeypatch, tmp_path):
    apply_settings(monkeypatch, pool_target=2, pool_batch=2)
    prompts.add_prompts(["a red circle"], PromptSource.admin)
    make_comparisons(1)  # default lacks one pair, hands two
    campaigns.create("hands", "", open_to_all=True, by="root")
    prompts.add_prompts(["two hands"], PromptSource.admin, campaign="hands")
    adapter = new_checkpoint(tmp_path, "hands-1")
    with session_scope() as session:
        session.execute(update(Checkpoint).where(Checkpoint.id == adapter).values(campaign_id=campaign_id("hands")))
        promote(session, adapter, by="test")
        # Broken while it serves: the moment before its rollback commits.
        session.execute(update(Checkpoint).where(Checkpoint.id == adapter).values(status=CheckpointStatus.broken))
    assert pool.plan_batch(get_settings()).campaign_id == 1
