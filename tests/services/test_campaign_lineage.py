"""Each campaign has its own lineage, on SQLite and Postgres: a campaign's round trains on its own votes,
from what serves it, and registers its checkpoint in its lineage; that checkpoint serves the campaign
once promoted (it is the campaign's candidate; an admin promotes it here), its pool then comes from it,
and it never serves another; default's loop (candidacies, what serves it, its pool) is untouched by
another campaign's rounds and promotions."""

import pytest
from sqlalchemy import select

from core.db.models import Candidacy, Comparison
from core.db.session import session_scope
from core.repo.checkpoints import active_checkpoint_id
from core.repo.rounds import new_decisive_comparisons
from core.services import campaigns, checkpoints, evaluations, labeling, prompts, rounds
from core.services.checkpoints import NewCheckpoint
from core.settings import get_settings
from core.states import (
    BASE_CHECKPOINT_ID,
    CandidateState,
    CheckpointKind,
    Choice,
    ComparisonState,
    PromptSource,
    RoundState,
    RoundTrigger,
)
from tests.api.test_evaluations_api import new_checkpoint
from tests.conftest import apply_settings
from tests.helpers.data import make_comparisons, make_labeler, serve
from tests.services import test_people_measure

any_db = test_people_measure.any_db  # the fixture: SQLite, then Postgres


def campaign_id(name: str) -> int:
    with session_scope() as session:
        return campaigns.by_name(session, name).id


def voted(count: int, labeler_id: int, seed: int, campaign: int = 1) -> list[int]:
    ids = make_comparisons(count, seed=seed, campaign_id=campaign)
    for comparison in ids:
        serve(comparison, labeler_id)
        labeling.vote(comparison, labeler_id, Choice.left, 900, get_settings())
    return ids


def published(claim: rounds.RoundClaim, tmp_path, name: str) -> int:
    """The round's checkpoint, registered as the train worker registers it (gate passed)."""
    folder = tmp_path / name
    folder.mkdir()
    (folder / "pytorch_lora_weights.safetensors").write_bytes(b"")
    new = NewCheckpoint(round_id=claim.round_id, name=name, kind=CheckpointKind.lora, path=str(folder),
                        parent_id=claim.start.id, passed_gate=True, gate_summary="passed", metrics={})  # fmt: skip
    return rounds.publish(claim, new, get_settings())


def test_a_campaigns_round_trains_its_votes_into_its_lineage_and_serves_it_once_promoted(any_db, outbox, tmp_path,
                                                                                       monkeypatch):  # fmt: skip
    apply_settings(monkeypatch, promotion="labelers")
    settings = get_settings()
    campaigns.create("hands", "", open_to_all=True, by="root")
    hands = campaign_id("hands")
    alice, _ = make_labeler("alice")
    ours = voted(2, alice, seed=0)
    theirs = voted(3, alice, seed=1, campaign=hands)
    with session_scope() as session:
        assert (new_decisive_comparisons(session), new_decisive_comparisons(session, hands)) == (2, 3)

    row = rounds.start_round(settings, RoundTrigger.admin, requested_by="root", campaign="hands")
    assert row.campaign_id == hands
    claim = rounds.claim_round(row.id, settings)
    assert claim.campaign_id == hands and claim.start.id == BASE_CHECKPOINT_ID  # what serves hands: the base
    assert sorted(p.comparison_id for p in rounds.preferences_of(claim, settings).pairs) == theirs

    made = published(claim, tmp_path, "hands-1")
    with session_scope() as session:
        candidacy = session.scalars(select(Candidacy)).one()  # hands' candidate, judged against what serves hands
        assert (candidacy.checkpoint_id, candidacy.serving_id, candidacy.state) == (made, 1, CandidateState.judging)
        assert (active_checkpoint_id(session), active_checkpoint_id(session, hands)) == (1, 1)
        assert new_decisive_comparisons(session, hands) == 0 and new_decisive_comparisons(session) == 2
    registry = {c.id: c for c in checkpoints.registry(with_evaluations=False).checkpoints}
    assert registry[made].campaign_id == hands and registry[made].parent_id == BASE_CHECKPOINT_ID

    waiting = make_comparisons(2, seed=2, campaign_id=hands)  # hands' pool, drawn from the base
    ours_waiting = make_comparisons(1, seed=3)
    deployment = checkpoints.promote(made, by="root", reason="looks right")
    assert deployment.campaign_id == hands
    with session_scope() as session:
        assert session.get(Candidacy, candidacy.id).state == CandidateState.promoted  # the admin's word ends it
    # Default's promotion evaluation (what serves it against what served it before) is not hands' business.
    apply_settings(monkeypatch, eval_seeds_per_prompt=1)
    prompts.add_prompts(["a red circle on the left, white background"], PromptSource.admin, for_eval=True)
    assert evaluations.plan_step(get_settings()) is None
    with session_scope() as session:
        assert (active_checkpoint_id(session), active_checkpoint_id(session, hands)) == (1, made)
        assert campaigns.serving_checkpoints(session)["hands"] == made
        states = dict(session.execute(select(Comparison.id, Comparison.state)).all())
    assert [states[c] for c in waiting] == [ComparisonState.retired] * 2  # hands' pool now comes from its own
    assert states[ours_waiting[0]] == ComparisonState.ready  # default's stays
    assert checkpoints.active_ref().id == 1

    # The next round of hands starts from what serves it; a checkpoint serves its own campaign only.
    second = rounds.claim_round(rounds.start_round(settings, RoundTrigger.admin, campaign="hands").id, settings)
    assert second.start.id == made
    rounds.end_claimed(second, RoundState.cancelled, "test")
    with pytest.raises(checkpoints.PromotionRefused, match="another campaign's lineage"):
        checkpoints.promote(made, by="root", campaign="default")
    with pytest.raises(rounds.InvalidRoundConfig, match="another campaign's lineage"):
        rounds.start_round(settings, RoundTrigger.admin, {"start_from": made})
    checkpoints.promote(BASE_CHECKPOINT_ID, by="root", reason="roll back", campaign="hands")  # the base: any
    with session_scope() as session:
        assert active_checkpoint_id(session, hands) == BASE_CHECKPOINT_ID and active_checkpoint_id(session) == 1
    assert ours  # default's votes stayed out of hands' round


def test_a_default_round_still_makes_a_candidate_and_ignores_other_campaigns(any_db, outbox, tmp_path, monkeypatch):
    apply_settings(monkeypatch, promotion="labelers")
    settings = get_settings()
    campaigns.create("hands", "", open_to_all=True, by="root")
    alice, _ = make_labeler("alice")
    ours = voted(2, alice, seed=0)
    voted(2, alice, seed=1, campaign=campaign_id("hands"))
    claim = rounds.claim_round(rounds.start_round(settings, RoundTrigger.admin).id, settings)
    assert claim.campaign_id == 1
    assert sorted(p.comparison_id for p in rounds.preferences_of(claim, settings).pairs) == ours
    made = published(claim, tmp_path, "default-1")
    with session_scope() as session:
        assert session.scalar(select(Candidacy.checkpoint_id)) == made


def test_bad_campaign_rounds_and_promotions_are_refused(any_db, outbox, tmp_path):
    settings = get_settings()
    with pytest.raises(campaigns.UnknownCampaign):
        rounds.start_round(settings, RoundTrigger.admin, campaign="nope")
    campaigns.create("hands", "", open_to_all=True, by="root")
    with pytest.raises(rounds.InvalidRoundConfig, match="no preference model of this campaign has trained yet"):
        rounds.start_round(settings, RoundTrigger.admin, {"sources": ["votes", "reward"], "reward_pairs": 8},
                           campaign="hands")  # fmt: skip
    new = new_checkpoint(tmp_path, "new")  # default's lineage
    with pytest.raises(checkpoints.PromotionRefused, match="another campaign's lineage"):
        checkpoints.promote(new, by="root", campaign="hands")
    with pytest.raises(campaigns.UnknownCampaign):
        checkpoints.promote(BASE_CHECKPOINT_ID, by="root", campaign="nope")
    campaigns.archive("hands")
    with pytest.raises(campaigns.CampaignRefused, match="archived"):
        rounds.start_round(settings, RoundTrigger.admin, campaign="hands")
    with pytest.raises(campaigns.CampaignRefused, match="archived"):
        checkpoints.promote(BASE_CHECKPOINT_ID, by="root", campaign="hands")
    assert rounds.list_rounds() == []


def test_the_schedule_starts_the_round_of_the_campaign_whose_votes_wait(any_db, outbox, monkeypatch):
    apply_settings(monkeypatch, round_min_pairs=3, round_min_interval_s=3600)
    campaigns.create("hands", "", open_to_all=True, by="root")
    hands = campaign_id("hands")
    alice, _ = make_labeler("alice")
    voted(2, alice, seed=0)  # default: fewer than round_min_pairs
    voted(3, alice, seed=1, campaign=hands)
    first = rounds.start_scheduled_round(get_settings())
    assert rounds.get_round(first)[0].campaign_id == hands
    assert rounds.start_scheduled_round(get_settings()) is None  # one round at a time
    rounds.cancel_round(first)
    voted(1, alice, seed=2)  # default's turn; hands waits out its interval since its scheduled start
    second = rounds.start_scheduled_round(get_settings())
    assert rounds.get_round(second)[0].campaign_id == 1
    rounds.cancel_round(second)
    assert rounds.start_scheduled_round(get_settings()) is None  # both within their interval
