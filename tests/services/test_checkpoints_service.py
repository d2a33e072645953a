import pytest

from core.db.models import Checkpoint
from core.db.session import session_scope
from core.services import checkpoints
from core.services.checkpoints import NewCheckpoint
from core.states import CheckpointKind, CheckpointStatus, ComparisonState
from tests.helpers.data import make_comparisons


def lora_dir(tmp_path, name: str) -> str:
    directory = tmp_path / name
    directory.mkdir()
    (directory / "pytorch_lora_weights.safetensors").write_bytes(b"")  # promotion checks the file is there
    return str(directory)


def new_checkpoint(tmp_path, round_id: int, passed: bool) -> NewCheckpoint:
    return NewCheckpoint(round_id=round_id, name=f"round-{round_id}", kind=CheckpointKind.lora,
                         path=lora_dir(tmp_path, f"r{round_id}"), parent_id=1, passed_gate=passed,
                         gate_summary="passed the gate" if passed else "held-out implicit accuracy 0.4 < 0.55",
                         metrics={"final_loss": 0.6})  # fmt: skip


def published(tmp_path, passed: bool, promotion: str = "gate") -> int:
    """A round's checkpoint, registered the way a round ends: under its claim (by default in gate mode,
    where a checkpoint that passed serves at once)."""
    from core.queue import sending_to
    from core.services import rounds
    from core.settings import get_settings
    from core.states import RoundTrigger

    with sending_to(lambda *_: None):
        round_id = rounds.start_round(get_settings(), RoundTrigger.admin).id
    claim = rounds.claim_round(round_id, get_settings())
    settings = get_settings().model_copy(update={"promotion": promotion})
    return rounds.publish(claim, new_checkpoint(tmp_path, round_id, passed), settings)


def test_a_checkpoint_that_passed_is_registered_and_promoted_in_one_transaction(sqlite_db, tmp_path):
    from core.services import rounds

    make_comparisons(2)  # the base's ready pairs leave the pool when another checkpoint serves
    new_id = published(tmp_path, passed=True)
    (ended,) = rounds.list_rounds()
    assert ended.state == "succeeded" and ended.checkpoint_id == new_id and ended.active_slot is None
    registry = checkpoints.registry(with_evaluations=False)
    assert registry.active_id == new_id and [c.id for c in registry.checkpoints] == [1, new_id]
    with session_scope() as session:
        from core.db.models import Comparison

        assert {c.state for c in session.query(Comparison)} == {ComparisonState.retired}


def test_a_rejected_checkpoint_is_kept_but_does_not_serve(sqlite_db, tmp_path):
    new_id = published(tmp_path, passed=False)
    with session_scope() as session:
        row = session.get(Checkpoint, new_id)
        assert row.status == CheckpointStatus.rejected and "implicit accuracy" in row.status_reason
    assert checkpoints.active_ref().id == 1
    checkpoints.promote(new_id, by="root", reason="by hand")  # an admin may overrule the gate
    assert checkpoints.active_ref().id == new_id


def test_a_broken_checkpoint_rolls_back_and_cannot_be_promoted(sqlite_db, tmp_path):
    new_id = published(tmp_path, passed=True)
    checkpoints.mark_broken(new_id, "failed to load: OSError")
    assert checkpoints.active_ref().id == 1
    with pytest.raises(checkpoints.PromotionRefused, match="broken"):
        checkpoints.promote(new_id, by="root")
    with pytest.raises(LookupError):
        checkpoints.promote(999, by="root")
    assert [d.checkpoint_id for d in checkpoints.deployments()][:2] == [1, new_id]


def test_judge_scores_are_cached_per_evaluation_set(sqlite_db):
    assert checkpoints.cached_judge_score(1, 64) is None
    checkpoints.record_judge_score(1, 0.9, 64)
    assert checkpoints.cached_judge_score(1, 64) == 0.9 and checkpoints.cached_judge_score(1, 32) is None
    assert checkpoints.cached_judge_score(1, 64, "pickscore:/models/ps") is None  # another judge's scale
    # The base starts every campaign's lineage: a campaign's set is kept beside the others, not over them.
    checkpoints.record_judge_score(1, 0.4, 64, "pickscore:/models/ps@campaign:2")
    checkpoints.record_judge_score(1, 0.5, 64, "pickscore:/models/ps")
    assert checkpoints.cached_judge_score(1, 64, "pickscore:/models/ps@campaign:2") == 0.4
    assert checkpoints.cached_judge_score(1, 64, "pickscore:/models/ps") == 0.5
    assert checkpoints.cached_judge_score(1, 64) == 0.9


def test_times_read_back_aware_on_sqlite(sqlite_db):
    from datetime import UTC

    (deployment,) = checkpoints.deployments()
    assert deployment.promoted_at.tzinfo is not None and deployment.promoted_at.utcoffset().total_seconds() == 0
    assert deployment.promoted_at.tzinfo == UTC
