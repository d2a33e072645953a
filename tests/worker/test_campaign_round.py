"""A campaign's loop in-process on the shipped model: the real pool task fills each campaign's pool from
its prompts, a labeler of one campaign votes on its pairs only, that campaign's round trains on them into
its lineage, the result (past the gate, in gate mode) serves that campaign alone at once, and its pool is
rendered with it while default's is not."""

from sqlalchemy import select

from core.db.models import Checkpoint, Comparison
from core.db.session import session_scope
from core.queue import TRAIN_ROUND, sending_to
from core.repo.checkpoints import active_checkpoint_id, checkpoint_folder
from core.repo.comparisons import ready_pool_count
from core.services import campaigns, prompts, rounds
from core.settings import get_settings
from core.states import (
    BASE_CHECKPOINT_ID,
    CheckpointStatus,
    ComparisonState,
    PromptSource,
    RoundState,
    RoundTrigger,
)
from tests.conftest import apply_settings
from tests.helpers.data import make_labeler
from tests.helpers.loop import Decisive, label_pool
from tests.helpers.rounds import QUICK, round_row

HANDS_PROMPTS = ["a red circle on the left, white background", "a blue square on the right, black background",
                 "a green triangle in the center, gray background", "a yellow cross on the left, beige background"]


def ready_pairs(campaign_id: int) -> list[tuple[int, int]]:
    """(id, checkpoint id) of the campaign's ready train pairs."""
    with session_scope() as session:
        return session.execute(select(Comparison.id, Comparison.checkpoint_id).where(
            Comparison.campaign_id == campaign_id, Comparison.state == ComparisonState.ready)).all()  # fmt: skip


def fill_both(hands: int) -> None:
    from worker.tasks.pool import fill_pool

    for _ in range(12):
        with session_scope() as session:
            full = [ready_pool_count(session, active_checkpoint_id(session, c), c) >= 6 for c in (1, hands)]
        if all(full):
            return
        fill_pool()
    raise AssertionError("the pools did not fill")


def test_a_campaign_trains_its_own_adapter_and_renders_its_pool_with_it(loop_db, monkeypatch):
    from worker.checkpoint_io import read_card
    from worker.rounds.run import run_round

    apply_settings(monkeypatch, pool_target=6, pool_batch=3)
    campaigns.create("hands", "Which shape is larger?", open_to_all=False, by="root")
    with session_scope() as session:
        hands = campaigns.by_name(session, "hands").id
    prompts.add_prompts(HANDS_PROMPTS, PromptSource.admin, campaign="hands")
    labeler, _ = make_labeler("hands-labeler")
    campaigns.assign("hands", labeler, 1.0, by="root")
    campaigns.update("default", open_to_all=False)  # they label hands alone

    fill_both(hands)
    assert {text for (text,) in _prompts_of(hands)} <= set(HANDS_PROMPTS)
    assert {checkpoint for _, checkpoint in ready_pairs(hands)} == {BASE_CHECKPOINT_ID}
    label_pool(labeler, Decisive("larger"), 6)
    assert len(ready_pairs(1)) >= 6  # default's pool: untouched by hands' labeler

    sent = []
    with sending_to(lambda name, args: sent.append((name, args))):
        round_id = rounds.start_round(get_settings(), RoundTrigger.admin, QUICK, campaign="hands").id
    assert sent == [(TRAIN_ROUND, [round_id])]
    run_round(round_id)
    row = round_row(round_id)
    assert row.state == RoundState.succeeded, row.error
    assert row.campaign_id == hands and row.counts["votes"] == 6
    with session_scope() as session:
        made = session.get(Checkpoint, row.checkpoint_id)
        assert (made.campaign_id, made.parent_id) == (hands, BASE_CHECKPOINT_ID)
        # Gate mode (the loop's fixture, its bars low): it passed, and serves hands at once; default, no.
        assert made.status != CheckpointStatus.rejected
        assert active_checkpoint_id(session, hands) == made.id
        assert active_checkpoint_id(session) == BASE_CHECKPOINT_ID
        card = read_card(checkpoint_folder(made))
    assert card["campaign_id"] == hands

    fill_both(hands)
    assert {checkpoint for _, checkpoint in ready_pairs(hands)} == {made.id}  # rendered with hands' adapter
    assert {checkpoint for _, checkpoint in ready_pairs(1)} == {BASE_CHECKPOINT_ID}


def _prompts_of(campaign_id: int) -> list[tuple[str]]:
    with session_scope() as session:
        return session.execute(select(Comparison.prompt).where(Comparison.campaign_id == campaign_id)).all()


def test_a_judge_that_reads_evaluation_prompts_scores_a_campaigns_round_on_its_own_or_not_at_all(loop_db, monkeypatch):
    from worker.rounds.judge import round_judge, set_key
    from worker.rounds.model import load_round_model

    apply_settings(monkeypatch, gate_judge="clip:/models/clip")
    settings = get_settings()
    campaigns.create("hands", "", open_to_all=True, by="root")
    with sending_to(lambda *_: None):
        round_id = rounds.start_round(settings, RoundTrigger.admin, QUICK, campaign="hands").id
    claim = rounds.claim_round(round_id, settings)
    model = load_round_model(claim, settings)
    assert round_judge(claim, model, settings) is None  # hands has no evaluation prompts: the rule is skipped
    prompts.add_prompts(HANDS_PROMPTS[:2], PromptSource.admin, for_eval=True, campaign="hands")
    assert round_judge(claim, model, settings) == "clip:/models/clip"
    # Its scores are kept apart from default's: the base's score on hands' set is another number.
    assert set_key("clip:/models/clip", claim.campaign_id) == f"clip:/models/clip@campaign:{claim.campaign_id}"
    assert set_key("clip:/models/clip", 1) == "clip:/models/clip" and set_key("scenes", claim.campaign_id) == "scenes"
    rounds.end_claimed(claim, RoundState.cancelled, "test")
