"""The disk fills while a round writes its checkpoint: the round fails cleanly, nothing half written is
registered or served, and the next round succeeds once there is room (a real tmpfs, as root)."""

from __future__ import annotations

import os
import subprocess

import pytest
from sqlalchemy import func, select

from core.db.models import Checkpoint
from core.db.session import session_scope
from core.repo.checkpoints import active_checkpoint_id
from core.states import RoundState
from tests.helpers.rounds import QUICK, labeled_pool, round_row, start


def mount_tmpfs(path, size: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)


@pytest.fixture
def small_disk(loop_db):
    from core.settings import get_settings

    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    checkpoints_dir = get_settings().checkpoints_dir
    mount_tmpfs(checkpoints_dir, "8k")
    yield checkpoints_dir
    subprocess.run(["umount", str(checkpoints_dir)], check=False)


def test_a_full_disk_fails_the_round_and_the_next_one_succeeds(small_disk):
    from worker.rounds.run import run_round

    labeled_pool(8)
    round_id = start(QUICK)
    run_round(round_id)
    row = round_row(round_id)
    assert row.state == RoundState.failed and "No space left" in row.error, row.error
    assert row.active_slot is None and row.checkpoint_id is None
    with session_scope() as session:
        assert session.scalar(select(func.count(Checkpoint.id))) == 1 and active_checkpoint_id(session) == 1
    assert list(small_disk.iterdir()) == []  # the partial directory was removed

    subprocess.run(["umount", str(small_disk)], check=True)
    mount_tmpfs(small_disk, "64m")  # room again
    again = start(QUICK)
    run_round(again)
    assert round_row(again).state == RoundState.succeeded
    with session_scope() as session:
        assert active_checkpoint_id(session) == round_row(again).checkpoint_id
