"""`dpoloop backup`: a consistent copy of what a restore needs: the database (with the install's
secret, the votes and the registry) and the data dir's media, latents and checkpoints.

The database is copied first, online and consistent (SQLite's backup API; pg_dump's snapshot); the
files after it, so every file a copied row names is in the copy (files made later are extra).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from core.db.models import Checkpoint, Comparison, Vote
from core.db.session import session_scope
from core.settings import Settings

FOLDERS = ("media", "latents", "checkpoints")
SQLITE_COPY, POSTGRES_DUMP = "dpoloop.sqlite3", "dpoloop.pgdump"


class BackupFailed(RuntimeError):
    pass


def write_backup(settings: Settings, out: Path) -> dict:
    """Write the backup into `out` (which must not exist yet); returns its manifest."""
    out.mkdir(parents=True)
    with session_scope() as session:
        counts = {"votes": session.scalar(select(func.count(Vote.id))),
                  "comparisons": session.scalar(select(func.count(Comparison.id))),
                  "checkpoints": session.scalar(select(func.count(Checkpoint.id)))}  # fmt: skip
        revision = session.scalar(text("SELECT version_num FROM alembic_version"))
    url = make_url(settings.sqlalchemy_url)
    if url.get_backend_name() == "sqlite":
        database = SQLITE_COPY
        with sqlite3.connect(url.database) as source, sqlite3.connect(out / database) as copy:
            source.backup(copy)
    else:
        database = POSTGRES_DUMP
        libpq_url = url.set(drivername="postgresql").render_as_string(hide_password=False)
        done = subprocess.run(["pg_dump", "--format=custom", "--no-owner", f"--file={out / database}", libpq_url],
                              capture_output=True, text=True)  # fmt: skip
        if done.returncode != 0:
            raise BackupFailed(f"pg_dump failed: {done.stderr.strip()[:500]}")
    files = 0
    for name in FOLDERS:
        source = settings.data_dir / name
        if source.is_dir():
            shutil.copytree(source, out / name)
            files += sum(1 for p in (out / name).rglob("*") if p.is_file())
    manifest = {"created_at": datetime.now(UTC).isoformat(), "database": database, "schema_revision": revision,
                "counts": counts, "files": files, "folders": list(FOLDERS)}  # fmt: skip
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest
