"""Checkpoint rows name their folders relative to the data dir: a copy of the data dir (a restored
backup, another host) wears and deletes its own files, never another install's."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from core.db.models import Checkpoint
from core.db.session import session_scope
from core.repo import checkpoints as checkpoints_repo
from core.repo.checkpoints import LORA_WEIGHTS
from core.services import checkpoints, retention
from core.states import CheckpointKind, CheckpointStatus
from core.storage import local_folder
from tests.conftest import apply_settings


def round_checkpoint(settings, name: str, passed: bool, days: float = 0) -> int:
    """A checkpoint as a round registers it: its folder written into the data dir's checkpoints folder."""
    from core.repo.checkpoints import NewCheckpoint, register

    folder = settings.checkpoints_dir / name
    folder.mkdir(parents=True)
    (folder / LORA_WEIGHTS).write_bytes(b"weights")
    new = NewCheckpoint(round_id=1, name=name, kind=CheckpointKind.lora, path=str(folder), parent_id=1,
                        passed_gate=passed, gate_summary="gate", metrics={})  # fmt: skip
    with session_scope() as session:
        checkpoint_id = register(session, new)
        session.execute(update(Checkpoint).where(Checkpoint.id == checkpoint_id)
                        .values(created_at=datetime.now(UTC) - timedelta(days=days)))  # fmt: skip
    return checkpoint_id


def restore(backup, into, monkeypatch):
    """docs/operations.md's restore of a SQLite install: the database and the folders into an empty data dir."""
    from core.db.migrate import upgrade
    from core.settings import get_settings

    into.mkdir()
    for name in ("dpoloop.sqlite3", "media", "latents", "checkpoints"):
        (shutil.copytree if (backup / name).is_dir() else shutil.copy)(backup / name, into / name)
    apply_settings(monkeypatch, database_url=f"sqlite:///{into / 'dpoloop.sqlite3'}", data_dir=into)
    upgrade()
    return get_settings()


def test_a_backup_restored_into_another_data_dir_wears_and_deletes_only_its_own_files(sqlite_db, tmp_path,
                                                                                       monkeypatch):  # fmt: skip
    from core.services.backup import write_backup

    live = sqlite_db
    kept = round_checkpoint(live, "round-0001-aaaaaa", passed=True)
    stale = round_checkpoint(live, "round-0002-bbbbbb", passed=False, days=40)
    write_backup(live, tmp_path / "backup")
    copy = restore(tmp_path / "backup", tmp_path / "restored", monkeypatch)

    with session_scope() as session:
        kept_key = checkpoints_repo.checkpoint_ref(session, kept).path
    assert kept_key == "checkpoints/round-0001-aaaaaa"  # a key, read in this data dir
    assert local_folder(copy, kept_key) == copy.checkpoints_dir / "round-0001-aaaaaa"
    report = retention.apply(copy)
    assert report.checkpoints == [stale] and report.failures == []
    assert not (copy.checkpoints_dir / "round-0002-bbbbbb").exists()
    assert (live.checkpoints_dir / "round-0002-bbbbbb" / LORA_WEIGHTS).is_file()  # the live install's: untouched


def test_a_backup_restored_on_another_host_finds_its_checkpoints(sqlite_db, tmp_path, monkeypatch):
    """Another host: the original data dir is not there; nothing refers to where it was."""
    from core.services.backup import write_backup

    kept = round_checkpoint(sqlite_db, "round-0001-aaaaaa", passed=True)
    write_backup(sqlite_db, tmp_path / "backup")
    shutil.rmtree(sqlite_db.checkpoints_dir)
    copy = restore(tmp_path / "backup", tmp_path / "elsewhere", monkeypatch)

    checkpoints.promote(kept, by="admin")  # refused when its files are missing
    assert local_folder(copy, checkpoints.active_ref().path) == copy.checkpoints_dir / "round-0001-aaaaaa"


def test_retention_never_deletes_a_folder_outside_the_data_dir(sqlite_db, tmp_path):
    settings = sqlite_db
    ids = []
    for stored in (str(tmp_path / "hand-placed"), "checkpoints/../../hand-placed-too"):
        folder = settings.data_dir / stored
        folder.mkdir(parents=True)
        (folder / LORA_WEIGHTS).write_bytes(b"weights")
        with session_scope() as session:
            row = Checkpoint(name=folder.name, kind=CheckpointKind.lora, path=stored, parent_id=1,
                             status=CheckpointStatus.rejected, metrics={},
                             created_at=datetime.now(UTC) - timedelta(days=40))  # fmt: skip
            session.add(row)
            session.flush()
            ids.append(row.id)

    report = retention.apply(settings)

    assert report.checkpoints == [] and report.outside_data_dir == ids
    assert (tmp_path / "hand-placed" / LORA_WEIGHTS).is_file() and (tmp_path / "hand-placed-too").is_dir()
