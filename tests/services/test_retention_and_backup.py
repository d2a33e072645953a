"""Retention deletes only what can no longer matter; a backup holds everything a restore needs."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from core.db.models import Checkpoint, Comparison, Generation
from core.db.session import session_scope
from core.services import retention
from core.states import CheckpointKind, CheckpointStatus, ComparisonState, GenerationPurpose, GenerationStatus
from tests.helpers.data import make_comparisons, make_labeler, serve


def age(model, ids, days: float, column: str = "created_at") -> None:
    with session_scope() as session:
        session.execute(update(model).where(model.id.in_(ids))
                        .values({column: datetime.now(UTC) - timedelta(days=days)}))  # fmt: skip


def files_of(settings, generation_id: int) -> list:
    with session_scope() as session:
        g = session.get(Generation, generation_id)
        return [p for p in (g.image_path and settings.media_dir / g.image_path,
                            g.latents_path and settings.latents_dir / g.latents_path) if p]  # fmt: skip


def rejected_checkpoint(settings, name: str, days: float) -> int:
    directory = settings.checkpoints_dir / name
    directory.mkdir(parents=True)
    (directory / "pytorch_lora_weights.safetensors").write_bytes(b"")
    with session_scope() as session:
        row = Checkpoint(name=name, kind=CheckpointKind.lora, path=str(directory), parent_id=1,
                         status=CheckpointStatus.rejected, status_reason="held-out accuracy too low", metrics={},
                         created_at=datetime.now(UTC) - timedelta(days=days))  # fmt: skip
        session.add(row)
        session.flush()
        return row.id


def test_retention_deletes_what_cannot_matter_and_keeps_the_rest(sqlite_db):
    from core.services import checkpoints, labeling
    from core.states import Choice

    settings = sqlite_db
    unvoted, voted, fresh = make_comparisons(3)
    alice, _ = make_labeler("alice")
    serve(voted, alice)
    labeling.vote(voted, alice, Choice.left, None, settings)
    with session_scope() as session:
        session.execute(update(Comparison).values(state=ComparisonState.retired))
        pairs = {c.id: (c.generation_a_id, c.generation_b_id) for c in session.query(Comparison)}
    age(Comparison, [unvoted, voted], days=5)
    unvoted_files = files_of(settings, pairs[unvoted][0]) + files_of(settings, pairs[unvoted][1])
    voted_files = files_of(settings, pairs[voted][0])
    old_client_image = client_image(settings, days=10)
    new_client_image = client_image(settings, days=1)
    stale = rejected_checkpoint(settings, "stale", days=40)
    served = rejected_checkpoint(settings, "served", days=40)
    checkpoints.promote(served, by="admin")  # promoted by hand once: a rollback target, kept
    young = rejected_checkpoint(settings, "young", days=3)

    report = retention.apply(settings)

    assert report.unvoted_pairs == 1 and report.api_images == 1 and report.checkpoints == [stale]
    assert not any(p.exists() for p in unvoted_files) and all(p.exists() for p in voted_files)
    with session_scope() as session:
        assert {c.id for c in session.query(Comparison)} == {voted, fresh}
        assert session.get(Generation, old_client_image).image_path is None
        assert session.get(Generation, new_client_image).image_path is not None
        assert "files removed after 30 days" in session.get(Checkpoint, stale).status_reason
    assert not (settings.checkpoints_dir / "stale").exists()
    assert (settings.checkpoints_dir / "served").exists() and (settings.checkpoints_dir / "young").exists()
    assert young and retention.apply(settings).files == 0  # a second run finds nothing


def client_image(settings, days: float) -> int:
    from core.repo.generations import create_generation, image_relpath, mark_done
    from core.schemas.generation import GenerationParams

    with session_scope() as session:
        g = create_generation(session, GenerationParams(prompt="a red circle"), purpose=GenerationPurpose.api)
        (settings.media_dir / image_relpath(g)).write_bytes(b"\x89PNG")
        mark_done(g, 1, 5.0)
        g.finished_at = datetime.now(UTC) - timedelta(days=days)
        assert g.status == GenerationStatus.done and g.latents_path is None
        return g.id


def test_a_backup_holds_the_database_and_the_files(sqlite_db, tmp_path):
    from core.services import labeling
    from core.services.backup import write_backup
    from core.states import Choice

    (cid,) = make_comparisons(1)
    alice, _ = make_labeler("alice")
    serve(cid, alice)
    labeling.vote(cid, alice, Choice.right, None, sqlite_db)
    manifest = write_backup(sqlite_db, tmp_path / "backup")
    copy = tmp_path / "backup"
    assert manifest["counts"] == {"votes": 1, "comparisons": 1, "checkpoints": 1} and manifest["files"] == 4
    with sqlite3.connect(copy / "dpoloop.sqlite3") as db:
        assert db.execute("select count(*) from votes").fetchone() == (1,)
        assert db.execute("select count(*) from install").fetchone() == (1,)  # the secret travels with the votes
    assert len(list((copy / "media").glob("*.png"))) == 2 and len(list((copy / "latents").glob("*.npy"))) == 2
    assert json.loads((copy / "manifest.json").read_text())["schema_revision"] == manifest["schema_revision"]


@pytest.fixture(params=["sqlite", "postgres"])
def any_db(request):
    """Foreign keys and rollbacks behave per database: retention runs on each."""
    from core.settings import get_settings

    request.getfixturevalue("sqlite_db" if request.param == "sqlite" else "pg_settings")
    get_settings().ensure_dirs()
    return get_settings()


def test_a_reported_pair_nobody_voted_on_is_kept_as_the_reports_evidence(any_db):
    """A labeler reports a pair without voting; the report retires it; days later retention must not
    trip over the report (a foreign key that rolled back every later day's deletions)."""
    from core.services import reports
    from core.states import ReportReason

    settings = any_db
    reported, unvoted = make_comparisons(2)
    alice, _ = make_labeler("alice")
    serve(reported, alice)
    reports.report(reported, alice, "left", ReportReason.harmful, settings, "a weapon")
    with session_scope() as session:
        session.execute(update(Comparison).values(state=ComparisonState.retired))
        pairs = {c.id: (c.generation_a_id, c.generation_b_id) for c in session.query(Comparison)}
    age(Comparison, [reported, unvoted], days=5)
    old_client_image = client_image(settings, days=10)
    evidence = files_of(settings, pairs[reported][0]) + files_of(settings, pairs[reported][1])

    report = retention.apply(settings)

    assert report.unvoted_pairs == 1 and report.api_images == 1 and report.failures == []
    assert all(p.exists() for p in evidence)
    with session_scope() as session:
        assert {c.id for c in session.query(Comparison)} == {reported}
        assert session.get(Generation, old_client_image).image_path is None
    (view,) = reports.reports()  # the admin still sees the reported image
    assert len(view.images) == 1 and (settings.media_dir / view.images[0]).is_file()
    assert retention.apply(settings).files == 0


def test_each_kind_of_deletion_commits_alone_and_a_failure_shows_in_the_overview(any_db):
    """Something unforeseen pointing at an unvoted pair (here: a table outside dpoloop's schema) fails
    that deletion only: the client images and the rejected checkpoint still go, and the admin's
    overview names the failure and why."""
    from sqlalchemy import text

    from core.db.session import engine_for
    from core.services.overview import overview

    settings = any_db
    (held,) = make_comparisons(1)
    with session_scope() as session:
        session.execute(update(Comparison).values(state=ComparisonState.retired))
    age(Comparison, [held], days=5)
    with engine_for(settings.sqlalchemy_url).begin() as conn:
        conn.execute(text("CREATE TABLE side_notes (comparison_id INTEGER NOT NULL REFERENCES comparisons (id))"))
        conn.execute(text("INSERT INTO side_notes (comparison_id) VALUES (:c)"), {"c": held})
    old_client_image = client_image(settings, days=10)
    stale = rejected_checkpoint(settings, "stale", days=40)

    report = retention.apply(settings)

    assert report.api_images == 1 and report.checkpoints == [stale] and report.unvoted_pairs == 0
    assert len(report.failures) == 1 and report.failures[0].startswith("unvoted train pairs: IntegrityError")
    with session_scope() as session:
        assert session.get(Generation, old_client_image).image_path is None
        assert session.get(Comparison, held) is not None
    assert not (settings.checkpoints_dir / "stale").exists()
    failures = overview(settings).failed_housekeeping
    assert len(failures) == 1 and "unvoted train pairs: IntegrityError" in failures[0].error
    assert failures[0].error.startswith("retention") and failures[0].finished_at is not None


def test_a_file_that_cannot_be_deleted_is_a_recorded_failure_and_the_rest_still_go(sqlite_db):
    from core.services.overview import overview

    settings = sqlite_db
    stuck, gone = client_image(settings, days=10), client_image(settings, days=10)
    stuck_file, gone_file = files_of(settings, stuck)[0], files_of(settings, gone)[0]
    stuck_file.unlink()
    stuck_file.mkdir()  # a folder where the image was: unlink refuses it
    (stuck_file / "x").write_bytes(b"")

    report = retention.apply(settings)

    assert report.api_images == 2 and not gone_file.exists() and stuck_file.is_dir()
    assert report.failures == [f"client images: 1 files could not be deleted, the first: IsADirectoryError: "
                               f"[Errno 21] Is a directory: '{stuck_file}'"]  # fmt: skip
    assert overview(settings).failed_housekeeping[0].error == f"retention: {report.failures[0]}"


def test_a_backup_folder_is_private_whatever_the_umask(sqlite_db, tmp_path):
    """It holds the install's secret and the token hashes: only the owner may read it."""
    import os
    import stat

    from core.services.backup import write_backup

    before = os.umask(0o022)
    try:
        write_backup(sqlite_db, tmp_path / "backup")
    finally:
        os.umask(before)
    assert stat.S_IMODE((tmp_path / "backup").stat().st_mode) == 0o700


def test_pg_dump_gets_the_password_from_a_pass_file_not_its_command_line(pg_settings, tmp_path, monkeypatch):
    """What `ps` shows of pg_dump (its arguments) holds no password; the real pg_dump still connects.
    A pg_dump earlier on PATH writes down its arguments, then runs the real one."""
    import os
    import shutil
    import subprocess
    from urllib.parse import urlsplit

    from sqlalchemy.engine import make_url

    from core.services.backup import write_backup
    from core.settings import get_settings

    assert make_url(pg_settings["database_url"]).password  # the test database has one
    real = shutil.which("pg_dump")
    shim = tmp_path / "bin" / "pg_dump"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {tmp_path}/argv\n'
                    f'[ -n "$PGPASSFILE" ] && stat -c %a "$PGPASSFILE" > {tmp_path}/passfile_mode\n'
                    f'exec {real} "$@"\n')  # fmt: skip
    shim.chmod(0o755)
    monkeypatch.setenv("PATH", f"{shim.parent}{os.pathsep}{os.environ['PATH']}")
    (cid,) = make_comparisons(1)

    manifest = write_backup(get_settings(), tmp_path / "backup")

    assert manifest["counts"]["comparisons"] == 1
    argv = (tmp_path / "argv").read_text().splitlines()
    urls = [urlsplit(arg) for arg in argv if arg.startswith("postgresql://")]
    assert len(urls) == 1 and urls[0].username and urls[0].password is None
    assert not any("password=" in arg.lower() for arg in argv)  # nor in a query or conninfo
    assert (tmp_path / "passfile_mode").read_text().strip() == "600"
    listed = subprocess.run(["pg_restore", "--list", str(tmp_path / "backup" / "dpoloop.pgdump")],
                            capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert "TABLE DATA public votes" in listed


def test_a_long_backlog_of_unvoted_pairs_goes_in_one_run(pg_settings):
    """An install whose retention stopped long ago (the reported-pair failure) holds more old pairs than
    one statement may bind (Postgres: 65,535 parameters, two generations a pair): they go in slices."""
    from sqlalchemy import insert

    from core.settings import get_settings

    count = 33_000
    old = datetime.now(UTC) - timedelta(days=30)
    with session_scope() as session:
        session.execute(insert(Generation), [
            {"public_id": f"backlog{i}", "prompt": "a red circle", "params": {}, "seed": i,
             "purpose": GenerationPurpose.pool, "status": GenerationStatus.done, "created_at": old}
            for i in range(2 * count)])  # fmt: skip
        first = session.query(Generation.id).order_by(Generation.id).first()[0]
        session.execute(insert(Comparison), [
            {"prompt": "a red circle", "generation_a_id": first + 2 * i, "generation_b_id": first + 2 * i + 1,
             "kind": "train", "state": ComparisonState.retired, "checkpoint_id": 1, "vote_count": 0,
             "created_at": old}
            for i in range(count)])  # fmt: skip

    report = retention.apply(get_settings())

    assert report.failures == [] and report.unvoted_pairs == count
    with session_scope() as session:
        assert session.query(Comparison).count() == 0


def test_an_unvoted_pair_once_served_goes_with_its_serve_handle(any_db):
    """A pair shown to a labeler who never voted on it has a serve handle: retention deletes both."""
    from sqlalchemy import func, select

    from core.db.models import ServeHandle

    settings = any_db
    (shown,) = make_comparisons(1)
    serve(shown, make_labeler("alice")[0])
    with session_scope() as session:
        session.execute(update(Comparison).values(state=ComparisonState.retired))
    age(Comparison, [shown], days=5)
    report = retention.apply(settings)
    assert report.unvoted_pairs == 1 and report.failures == []
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(ServeHandle)) == 0
        assert session.get(Comparison, shown) is None
