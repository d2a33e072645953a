"""Training rounds in-process on the shipped model: real pool, real votes, real training and gate.

On SQLite here (the default database); the end-to-end test runs the same round on Postgres
through a Celery worker.
"""

import shutil

import pytest
from sqlalchemy import func, select

from core.db.models import Checkpoint, Deployment, RoundStep, Vote
from core.db.session import session_scope
from core.repo.checkpoints import active_checkpoint_id, checkpoint_folder
from core.services import rounds
from core.services.rounds import RoundBusy
from core.settings import get_settings
from core.states import CheckpointKind, CheckpointStatus, RoundState
from tests.conftest import apply_settings
from tests.helpers.data import make_comparisons, make_labeler, serve
from tests.helpers.loop import generate_pool, label_pool
from tests.helpers.rounds import QUICK, labeled_pool, round_row, start


def test_a_round_trains_writes_gates_and_promotes(loop_db):
    from diffusers import StableDiffusionPipeline

    from worker.checkpoint_io import read_card
    from worker.rounds.run import run_round

    labeled_pool(12)
    with session_scope() as session:
        votes_before = session.scalar(select(func.count(Vote.id)))
    round_id = start(QUICK)
    run_round(round_id)

    row = round_row(round_id)
    assert row.state == RoundState.succeeded, row.error
    assert row.active_slot is None and row.snapshot_vote_id == votes_before
    assert row.counts["votes"] == 12 and row.counts["train_pairs"] + row.counts["held_out_pairs"] == row.counts["pairs"]
    with session_scope() as session:
        steps = session.scalars(select(RoundStep).where(RoundStep.round_id == round_id).order_by(RoundStep.step)).all()
        assert [s.step for s in steps] == list(range(1, 13))
        assert {"loss", "implicit_accuracy", "reward_margin", "model_err_w", "ref_err_l"} <= set(steps[0].metrics)
        checkpoint = session.get(Checkpoint, row.checkpoint_id)
        assert checkpoint.kind == CheckpointKind.lora and checkpoint.parent_id == 1 and checkpoint.round_id == round_id
        assert checkpoint.status == CheckpointStatus.ready and checkpoint.metrics["gate"]["passed"]
        assert {"judge_score", "judge_score_parent", "held_out_implicit_accuracy"} <= set(checkpoint.metrics)
        # The gate's held-out rules carry their interval over the held-out pairs, each scored under 8 draws;
        # the curves keep scalars only.
        held = row.counts["held_out_pairs"]
        assert checkpoint.metrics["held_out_draws"] == 8 and held >= 2
        assert len(checkpoint.metrics["held_out_winner_drift_by_pair"]) == held
        accuracy = checkpoint.metrics["gate"]["rules"]["accuracy"]
        assert accuracy["pairs"] == held and accuracy["low"] <= accuracy["value"] <= accuracy["high"]
        assert not any(isinstance(v, list) for s in steps for v in s.metrics.values())
        assert active_checkpoint_id(session) == checkpoint.id  # auto-promoted
        path = checkpoint_folder(checkpoint)
        assert checkpoint.path == f"checkpoints/{checkpoint.name}"  # relative to the data dir
    # Plain diffusers reads it back; the card carries lineage and config; no temporary dir is left.
    card = read_card(path)
    assert card["family"] == "scenes"
    assert card["parent_id"] == 1 and card["round_id"] == round_id and card["config"]["steps"] == 12
    pipe = StableDiffusionPipeline.from_pretrained(get_settings().base_model)
    pipe.load_lora_weights(str(path))
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".tmp")] == []


def test_a_second_round_continues_the_promoted_lora(loop_db):
    from worker.rounds.run import run_round

    labeler_id = labeled_pool(12)
    first = start(QUICK)
    run_round(first)
    parent = round_row(first).checkpoint_id
    generate_pool(8)  # the pool refills for the new checkpoint
    label_pool(labeler_id, "smaller", 8)
    second = start(QUICK)
    run_round(second)
    row = round_row(second)
    assert row.state == RoundState.succeeded, row.error
    assert row.start_checkpoint_id == parent and row.reference_checkpoint_id == 1
    with session_scope() as session:
        checkpoint = session.get(Checkpoint, row.checkpoint_id)
        assert checkpoint.parent_id == parent
        # The gate's judge bar sees the base's score, measured once in the first round.
        base_scores = session.get(Checkpoint, 1).metrics["judge_scores"]  # one per judge and set
        assert checkpoint.metrics["judge_score_base"] == base_scores["scenes"]["score"]


def test_a_rejected_checkpoint_is_registered_but_not_promoted(loop_db, monkeypatch):
    from worker.rounds.run import run_round

    # Every held-out pair ordered right under every noise draw is the bar; two steps at a learning
    # rate that leaves the model as it was rank each pair about as a coin would (a tie is half).
    apply_settings(monkeypatch, gate_min_accuracy=1.0)
    labeled_pool(12)
    round_id = start(QUICK | {"steps": 2, "learning_rate": 1e-9, "held_out_share": 0.5})
    run_round(round_id)
    row = round_row(round_id)
    assert row.state == RoundState.succeeded, row.error  # the round did its job; the gate said no
    with session_scope() as session:
        checkpoint = session.get(Checkpoint, row.checkpoint_id)
        assert not checkpoint.metrics["gate"]["passed"] and checkpoint.status == CheckpointStatus.rejected
        assert checkpoint.metrics["held_out_implicit_accuracy"] < 1.0
        assert "implicit accuracy" in checkpoint.status_reason
        assert active_checkpoint_id(session) == 1 and checkpoint_folder(checkpoint).is_dir()


def test_a_round_without_pairs_ends_with_a_reason(loop_db):
    from worker.rounds.run import run_round

    labeler_id, _ = make_labeler("sim")
    ids = make_comparisons(3)
    from core.repo.comparisons import record_vote
    from core.states import Choice

    for comparison_id, choice in zip(ids, (Choice.tie, Choice.both_bad, Choice.skip), strict=True):
        serve(comparison_id, labeler_id)
        with session_scope() as session:
            record_vote(session, comparison_id, labeler_id, choice, None, 1)
    round_id = start(QUICK)
    run_round(round_id)
    row = round_row(round_id)
    assert row.state == RoundState.failed and "nothing to train on" in row.error and row.active_slot is None
    assert row.counts["votes"] == 3 and row.counts["comparisons_without_decisive_votes"] == 3


def test_one_round_at_a_time_is_a_database_fact(loop_db):
    first = start(QUICK)
    with pytest.raises(RoundBusy, match=f"round {first}"):
        start(QUICK)


def test_a_failing_round_leaves_the_served_checkpoint_and_the_votes_alone(loop_db):
    from core.settings import get_settings
    from worker.rounds.run import run_round

    labeled_pool(8)
    checkpoints_dir = get_settings().checkpoints_dir
    shutil.rmtree(checkpoints_dir, ignore_errors=True)
    checkpoints_dir.write_text("a file where the checkpoints directory should be")  # the write fails at the end
    round_id = start(QUICK)
    run_round(round_id)
    row = round_row(round_id)
    with session_scope() as session:
        assert row.state == RoundState.failed and "FileExistsError" in row.error
        assert session.scalar(select(func.count(Deployment.id))) == 1 and active_checkpoint_id(session) == 1
        assert session.scalar(select(func.count(Vote.id))) == 8
        assert session.scalar(select(func.count(Checkpoint.id))) == 1


def test_cancel_stops_a_running_round(loop_db, monkeypatch):
    from worker.rounds.run import run_round

    labeled_pool(8)
    round_id = start(QUICK | {"steps": 500})
    real_add_step = rounds.add_step

    def add_step_then_cancel(claim, metrics):  # an admin cancels while step 3 is being stored
        real_add_step(claim, metrics)
        if metrics["step"] == 3:
            rounds.cancel_round(claim.round_id)

    monkeypatch.setattr(rounds, "add_step", add_step_then_cancel)
    run_round(round_id)
    row = round_row(round_id)
    assert row.state == RoundState.cancelled and "step 3 of 500" in row.error and row.checkpoint_id is None


@pytest.mark.serial  # a stale time: run alone on the machine
def test_a_slow_phase_keeps_the_round_alive(loop_db, monkeypatch):
    """Loading and judging send no steps; the round's pulse must not stop while they run (a round
    silent for round_stale_s is declared lost and frees the slot)."""
    import threading
    import time

    import worker.rounds.judge as judge
    from worker.rounds.run import run_round

    # The pulse beats every 0.6 s: a 3 s stale time leaves room for a busy CI machine's hiccups.
    apply_settings(monkeypatch, round_stale_s=3.0)
    real_judge = judge.judge_score

    def slow_judge(generator, images, spec="scenes", campaign_id=1):
        time.sleep(4.0)  # longer than the stale time, with no training step in between
        return real_judge(generator, images, spec, campaign_id)

    monkeypatch.setattr(judge, "judge_score", slow_judge)
    labeled_pool(8)
    round_id = start(QUICK)
    declared_lost, stop = [], threading.Event()

    def check_rounds_as_beat_would():
        while not stop.wait(0.25):
            declared_lost.extend(rounds.fail_stale_rounds(get_settings()))

    checker = threading.Thread(target=check_rounds_as_beat_would)
    checker.start()
    try:
        run_round(round_id)
    finally:
        stop.set()
        checker.join()
    row = round_row(round_id)
    assert declared_lost == [] and row.state == RoundState.succeeded, row.error
