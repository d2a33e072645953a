"""Each campaign judges its own candidates, on SQLite and Postgres: a round's checkpoint that passed the
gate is its campaign's candidate, judged against what serves that campaign; its evaluation pairs go to
that campaign's labelers alone (before its train pairs), their votes decide it, and a decision, a newer
candidate or an admin's promotion in one campaign never ends another's candidacy."""

import pytest
from sqlalchemy import select, update

from core.db.models import Candidacy, Comparison
from core.db.session import session_scope
from core.queue import sending_to
from core.repo import candidacies
from core.repo.checkpoints import active_checkpoint_id
from core.services import campaigns, candidates, checkpoints, labeling, rounds
from core.settings import get_settings
from core.states import BASE_CHECKPOINT_ID, DEFAULT_CAMPAIGN_ID, CandidateState, RoundTrigger
from tests.helpers.data import make_comparisons, make_labeler
from tests.services import test_candidates
from tests.services.test_candidates import WIN, candidacy_of, cast, eval_pairs
from tests.services.test_checkpoints_service import new_checkpoint, published

any_db = test_candidates.any_db  # the fixture: SQLite, then Postgres, several votes a pair


def published_in(tmp_path, campaign: str) -> int:
    """A round of `campaign` whose checkpoint passed the gate, registered as a round ends (labelers mode)."""
    settings = get_settings().model_copy(update={"promotion": "labelers"})
    with sending_to(lambda *_: None):
        round_id = rounds.start_round(settings, RoundTrigger.admin, campaign=campaign).id
    claim = rounds.claim_round(round_id, settings)
    return rounds.publish(claim, new_checkpoint(tmp_path, round_id, passed=True), settings)


def in_campaign(pairs: list[int], campaign_id: int) -> list[int]:
    """Evaluation pairs as the worker writes them for a campaign's candidate: the campaign's."""
    with session_scope() as session:
        session.execute(update(Comparison).where(Comparison.id.in_(pairs)).values(campaign_id=campaign_id))
    return pairs


@pytest.fixture
def two_campaigns(any_db) -> int:
    """`hands`, a campaign of its own labelers; default's labelers assigned too (its labelers are not hands')."""
    campaigns.update("default", open_to_all=False)
    return campaigns.create("hands", "Which hands look right?", open_to_all=False, by="root").id


def test_two_campaigns_judge_their_candidates_at_once_each_by_its_own_labelers(two_campaigns, tmp_path):
    hands, settings = two_campaigns, get_settings()
    ours = published(tmp_path, passed=True, promotion="labelers")
    theirs = published_in(tmp_path, "hands")
    with session_scope() as session:  # hands' candidate did not supersede default's: each judges its own
        judged = {c: row.checkpoint_id for c, row in candidacies.judging_campaigns(session).items()}
    assert judged == {DEFAULT_CAMPAIGN_ID: ours, hands: theirs}
    assert candidacy_of(theirs).serving_id == BASE_CHECKPOINT_ID  # what serves hands

    our_pairs = eval_pairs(ours, BASE_CHECKPOINT_ID, 20)
    their_pairs = in_campaign(eval_pairs(theirs, BASE_CHECKPOINT_ID, 20), hands)
    their_train = make_comparisons(2, seed=9, campaign_id=hands)
    people = [make_labeler(f"hand-{n}")[0] for n in range(2)]
    for person in people:
        campaigns.assign("hands", person, 1.0, by="root")
    outsider, _ = make_labeler("outsider")  # default's only
    campaigns.assign("default", outsider, 1.0, by="root")

    # Each labeler gets their campaign's evaluation pairs, before its train pairs; never the other's.
    shown = [labeling.next_comparison(outsider, settings) for _ in range(3)]
    assert {s.id for s in shown} <= set(our_pairs)
    first = labeling.next_comparison(people[0], settings)
    assert first.id in their_pairs and first.campaign == "hands"
    with pytest.raises(campaigns.NotInCampaign):
        cast(their_pairs[-1], outsider, WIN)

    # Hands' people win it: hands' candidate serves hands; default's is still judged, default unchanged.
    for n, pair in enumerate(their_pairs):
        cast(pair, people[n % 2], WIN)
        if candidacy_of(theirs).state != CandidateState.judging:
            break
    assert (candidacy_of(theirs).state, candidacy_of(theirs).decided_by) == (CandidateState.promoted, "labelers")
    assert candidacy_of(ours).state == CandidateState.judging
    with session_scope() as session:
        assert (active_checkpoint_id(session), active_checkpoint_id(session, hands)) == (BASE_CHECKPOINT_ID, theirs)
        states = dict(session.execute(select(Comparison.id, Comparison.state)).all())
    assert {states[p] for p in our_pairs} == {"ready"}  # default's evaluation stays in the pool
    assert {states[p] for p in their_train} == {"retired"}  # hands' pool now comes from its candidate
    assert candidates.review_all(settings) == {DEFAULT_CAMPAIGN_ID: CandidateState.judging}


def test_a_newer_candidate_or_an_admin_ends_only_its_own_campaigns_candidacy(two_campaigns, tmp_path):
    hands = two_campaigns
    ours = published(tmp_path, passed=True, promotion="labelers")
    theirs = published_in(tmp_path, "hands")
    newer = published_in(tmp_path, "hands")
    assert candidacy_of(theirs).state == CandidateState.undecided
    assert candidacy_of(theirs).reason == f"superseded by checkpoint {newer}"
    assert candidacy_of(ours).state == CandidateState.judging  # default's is not hands' business

    # An admin promotes default's candidate: default's candidacy ends promoted, hands' is still judged.
    checkpoints.promote(ours, by="root", reason="looks right")
    assert candidacy_of(ours).state == CandidateState.promoted
    assert candidacy_of(newer).state == CandidateState.judging
    # A candidate is judged against what serves its own campaign: default's promotion changed nothing there.
    assert candidates.review(get_settings(), hands) == CandidateState.judging
    # An admin rolls hands back to the base: what serves hands changed, so its candidacy ends undecided.
    checkpoints.promote(BASE_CHECKPOINT_ID, by="root", reason="back to the base", campaign="hands")
    assert candidacy_of(newer).state == CandidateState.undecided
    assert "what serves changed" in candidacy_of(newer).reason
    with session_scope() as session:
        assert session.scalars(select(Candidacy).where(Candidacy.state == CandidateState.judging)).all() == []
        assert (active_checkpoint_id(session), active_checkpoint_id(session, hands)) == (ours, BASE_CHECKPOINT_ID)
    # And a rejection by an admin names the checkpoint, in any campaign.
    third = published_in(tmp_path, "hands")
    assert candidates.reject_by_admin(third, by="root", reason="hands look wrong").state == CandidateState.rejected
    with pytest.raises(candidates.NotJudged):
        candidates.reject_by_admin(third, by="root")
    # Archived, a campaign has nobody to judge its candidate: the next review ends it undecided.
    fourth = published_in(tmp_path, "hands")
    campaigns.archive("hands")
    assert candidates.review_all(get_settings()) == {hands: CandidateState.undecided}
    assert candidacy_of(fourth).reason == "campaign hands was archived"


def test_a_checkpoints_same_seed_grid_shows_its_campaigns_evaluation_prompts(two_campaigns, tmp_path, monkeypatch):
    from core.services import grid, prompts
    from core.states import PromptSource
    from tests.conftest import apply_settings

    apply_settings(monkeypatch, eval_seeds_per_prompt=1)
    prompts.add_prompts(["a red circle"], PromptSource.admin, for_eval=True)
    prompts.add_prompts(["two open hands", "a waving hand"], PromptSource.admin, for_eval=True, campaign="hands")
    ours = published(tmp_path, passed=True, promotion="labelers")
    theirs = published_in(tmp_path, "hands")
    assert [r.prompt for r in grid.grid(get_settings(), theirs).rows] == ["two open hands", "a waving hand"]
    assert [r.prompt for r in grid.grid(get_settings(), ours).rows] == ["a red circle"]
