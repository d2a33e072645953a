from datetime import UTC, datetime, timedelta

import pytest

from core.db.models import TrainingRound
from core.db.session import session_scope
from core.queue import TRAIN_ROUND, QueueUnavailable, sending_to
from core.services import rounds
from core.states import RoundState, RoundTrigger
from tests.conftest import apply_settings
from tests.helpers.data import make_comparisons, make_labeler, serve
from tests.services.conftest import Outbox


def slot_taken(name: str, args: list) -> bool:
    with session_scope() as session:
        row = session.get(TrainingRound, args[0])
        return row is not None and row.state == RoundState.queued and row.active_slot == 1


def test_a_round_holds_the_slot_before_its_task_is_sent(sqlite_db):
    box = Outbox(visible=slot_taken)
    with sending_to(box):
        row = rounds.start_round(sqlite_db, RoundTrigger.admin, {"steps": 7}, requested_by="root")
        with pytest.raises(rounds.RoundBusy, match=f"round {row.id}"):
            rounds.start_round(sqlite_db, RoundTrigger.admin)
    assert box.sent == [(TRAIN_ROUND, [row.id])] and box.seen == [True]
    assert row.config["steps"] == 7 and row.trigger == RoundTrigger.admin


def test_an_invalid_config_is_refused_before_the_slot_is_taken(sqlite_db, outbox):
    with pytest.raises(rounds.InvalidRoundConfig, match="beta"):
        rounds.start_round(sqlite_db, RoundTrigger.admin, {"beta": -1})
    with pytest.raises(rounds.InvalidRoundConfig, match="no_such_setting"):
        rounds.start_round(sqlite_db, RoundTrigger.admin, {"no_such_setting": 1})
    assert outbox.sent == [] and rounds.list_rounds() == []


def test_a_round_the_broker_refused_frees_the_slot(sqlite_db, broker_down):
    with pytest.raises(QueueUnavailable):
        rounds.start_round(sqlite_db, RoundTrigger.admin)
    (row,) = rounds.list_rounds()
    assert row.state == RoundState.failed and row.active_slot is None and "could not queue" in row.error


def test_cancel_ends_a_queued_round_and_refuses_an_ended_one(sqlite_db, outbox):
    row = rounds.start_round(sqlite_db, RoundTrigger.admin)
    assert rounds.cancel_round(row.id).state == RoundState.cancelled
    with pytest.raises(rounds.RoundEnded):
        rounds.cancel_round(row.id)
    with pytest.raises(LookupError):
        rounds.cancel_round(row.id + 1)
    assert rounds.claim_round(row.id, sqlite_db) is None  # the task, delivered late, finds nothing to do


def test_claim_fixes_what_the_round_trains_on(sqlite_db, outbox):
    row = rounds.start_round(sqlite_db, RoundTrigger.admin)
    claim = rounds.claim_round(row.id, sqlite_db)
    assert claim.start.id == 1 and claim.reference.id == 1 and claim.snapshot_vote_id == 0
    stored, _ = rounds.get_round(row.id)
    assert stored.state == RoundState.running and stored.attempts == 1
    rounds.add_step(claim, {"step": 1, "loss": 0.69})
    assert rounds.end_claimed(claim, RoundState.failed, "test")
    ended, steps = rounds.get_round(row.id)
    assert ended.active_slot is None and [s.step for s in steps] == [1]


def test_a_redelivered_task_does_not_run_a_live_round_twice(sqlite_db, outbox):
    row = rounds.start_round(sqlite_db, RoundTrigger.admin)
    first = rounds.claim_round(row.id, sqlite_db)
    assert first is not None and rounds.claim_round(row.id, sqlite_db) is None  # its worker is alive
    make_silent(row.id)
    second = rounds.claim_round(row.id, sqlite_db)  # the worker died: a redelivery takes over
    assert second is not None and second.token != first.token
    with pytest.raises(rounds.RoundLost):
        rounds.add_step(first, {"step": 1, "loss": 0.6})
    assert not rounds.end_claimed(first, RoundState.succeeded)
    assert rounds.get_round(row.id)[0].state == RoundState.running  # still the second claim's
    assert rounds.end_claimed(second, RoundState.cancelled, "test")


def test_a_round_declared_lost_never_registers_or_promotes(sqlite_db, outbox, tmp_path):
    from core.services import checkpoints
    from core.services.checkpoints import NewCheckpoint
    from core.states import CheckpointKind

    row = rounds.start_round(sqlite_db, RoundTrigger.admin)
    claim = rounds.claim_round(row.id, sqlite_db)
    make_silent(row.id)
    assert rounds.fail_stale_rounds(sqlite_db) == [row.id]
    new = NewCheckpoint(round_id=row.id, name="late", kind=CheckpointKind.lora, path=str(tmp_path), parent_id=1,
                        passed_gate=True, gate_summary="passed the gate", metrics={})  # fmt: skip
    with pytest.raises(rounds.RoundLost):
        rounds.publish(claim, new, sqlite_db)
    with pytest.raises(rounds.RoundLost):
        rounds.beat(claim)
    assert [c.id for c in checkpoints.registry(with_evaluations=False).checkpoints] == [1]
    assert checkpoints.active_ref().id == 1 and rounds.get_round(row.id)[0].state == RoundState.failed


def make_silent(round_id: int) -> None:
    with session_scope() as session:
        session.get(TrainingRound, round_id).heartbeat_at = datetime.now(UTC) - timedelta(hours=1)


def test_the_schedule_starts_a_round_once_enough_decisive_pairs_wait(sqlite_db, outbox, monkeypatch):
    from core.services import labeling
    from core.states import Choice

    apply_settings(monkeypatch, round_min_pairs=3, round_min_interval_s=0)
    labeler, _ = make_labeler("alice")
    ids = make_comparisons(3)
    for comparison_id, choice in zip(ids, (Choice.left, Choice.right, Choice.tie), strict=True):
        serve(comparison_id, labeler)
        labeling.vote(comparison_id, labeler, choice, None, rounds_settings())
    assert rounds.start_scheduled_round(rounds_settings()) is None  # two decisive pairs of three
    (fourth,) = make_comparisons(1, seed=1)
    serve(fourth, labeler)
    labeling.vote(fourth, labeler, Choice.left, None, rounds_settings())
    round_id = rounds.start_scheduled_round(rounds_settings())
    assert round_id is not None and outbox.sent == [(TRAIN_ROUND, [round_id])]
    assert rounds.start_scheduled_round(rounds_settings()) is None  # one at a time


def test_an_invalid_override_is_recorded_as_a_failed_scheduled_round(sqlite_db, outbox, monkeypatch):
    apply_settings(monkeypatch, round_min_pairs=1, round_min_interval_s=0, dpo_overrides='{"beta": 0}')
    from core.services import labeling
    from core.states import Choice

    labeler, _ = make_labeler("alice")
    (only,) = make_comparisons(1)
    serve(only, labeler)
    labeling.vote(only, labeler, Choice.left, None, rounds_settings())
    assert rounds.start_scheduled_round(rounds_settings()) is None
    (row,) = rounds.list_rounds()
    assert row.state == RoundState.failed and "DPOLOOP_DPO_OVERRIDES" in row.error and outbox.sent == []


def test_a_silent_running_round_is_declared_lost(sqlite_db, outbox):
    row = rounds.start_round(sqlite_db, RoundTrigger.admin)
    rounds.claim_round(row.id, sqlite_db)
    make_silent(row.id)
    assert rounds.fail_stale_rounds(rounds_settings()) == [row.id]
    assert rounds.get_round(row.id)[0].state == RoundState.failed


def rounds_settings():
    from core.settings import get_settings

    return get_settings()
