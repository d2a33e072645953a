"""`dpoloop backup`: a consistent copy of what a restore needs: the database (with the install's
secret, the votes and the registry) and the data dir's media, latents and checkpoints (with
DPOLOOP_STORAGE_URL the files stay in the object store, whose versioning or replicas keep them: the
backup names the store).

The database is copied first, online and consistent (SQLite's backup API; pg_dump's snapshot); the
files after it, so every file a copied row names is in the copy (files made later are extra).
The backup holds the install's secret and the labelers' token hashes: its folder is the owner's
alone (0700), and pg_dump reads the password from a private pass file, never its command line
(which `ps` shows to every user).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select, text
from sqlalchemy.engine import URL, make_url

from core.db.models import Checkpoint, Comparison, Vote
from core.db.session import session_scope
from core.settings import Settings

FOLDERS = ("media", "latents", "checkpoints")
SQLITE_COPY, POSTGRES_DUMP = "dpoloop.sqlite3", "dpoloop.pgdump"


class BackupFailed(RuntimeError):
    pass


def _pg_dump(url: URL, into: Path) -> None:
    """pg_dump of the database at `url`; the password goes through a pass file only the owner can read."""
    password = url.password if url.password is not None else url.query.get("password")
    bare = URL.create("postgresql", username=url.username, host=url.host, port=url.port, database=url.database,
                      query=url.difference_update_query(["password"]).query)  # fmt: skip
    libpq_url = bare.render_as_string(hide_password=False)
    env = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="dpoloop-backup-") as private:  # 0700, removed after
        if password is not None:
            escaped = str(password).replace("\\", "\\\\").replace(":", "\\:")
            passfile = Path(private) / "pgpass"
            descriptor = os.open(passfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # libpq wants 0600
            with os.fdopen(descriptor, "w") as out:
                out.write(f"*:*:*:*:{escaped}\n")
            env |= {"PGPASSFILE": str(passfile)}
            env.pop("PGPASSWORD", None)
        command = ["pg_dump", "--format=custom", "--no-owner", "--no-password", f"--file={into}", libpq_url]
        done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise BackupFailed(f"pg_dump failed: {done.stderr.strip()[:500]}")


def write_backup(settings: Settings, out: Path) -> dict:
    """Write the backup into `out` (which must not exist yet, FileExistsError); returns its manifest."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.mkdir(mode=0o700)
    out.chmod(0o700)  # whatever the umask
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
        _pg_dump(url, out / database)
    files = 0
    for name in () if settings.storage_url else FOLDERS:  # an object store keeps its own (versioning, replicas)
        source = settings.data_dir / name
        if source.is_dir():
            shutil.copytree(source, out / name)
            files += sum(1 for p in (out / name).rglob("*") if p.is_file())
    manifest = {"created_at": datetime.now(UTC).isoformat(), "database": database, "schema_revision": revision,
                "counts": counts, "files": files, "folders": [] if settings.storage_url else list(FOLDERS),
                "storage_url": settings.storage_url}  # fmt: skip
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest
