"""Databases at the newest schema, fast. Alembic runs through every migration once per test session and
database kind, into a template; each test's database is a copy of it (SQLite: the file; Postgres:
CREATE DATABASE … TEMPLATE, the `postgres_template` fixture), many times faster than an upgrade
(bench/test_databases.py). A copy gets a secret of its own, as each install's first migration draws one.
tests/db/test_migrations.py still runs every migration, on both databases."""

from __future__ import annotations

import atexit
import secrets
import shutil
import sqlite3
import tempfile
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool

_sqlite_template: Path | None = None


def migrated() -> None:
    """What core.db.migrate.upgrade() does for the database the settings name: a copy of the template
    when it is a SQLite file not made yet, the real upgrade otherwise."""
    from core.db.migrate import upgrade
    from core.settings import get_settings

    settings = get_settings()
    url = make_url(settings.sqlalchemy_url)
    if url.get_backend_name() != "sqlite" or not url.database or Path(url.database).exists():
        upgrade()
        return
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_sqlite(), url.database)
    new_install_secret(settings.sqlalchemy_url)


def upgrade_into(url: str) -> None:
    """The real upgrade, into `url`, leaving the settings as they were."""
    from core.db.migrate import upgrade
    from core.settings import get_settings

    with pytest.MonkeyPatch.context() as patch, tempfile.TemporaryDirectory() as data_dir:
        patch.setenv("DPOLOOP_DATABASE_URL", url)
        patch.setenv("DPOLOOP_DATA_DIR", data_dir)
        get_settings.cache_clear()
        upgrade()
    get_settings.cache_clear()


def new_install_secret(url: str) -> None:
    """A copy is another install: it draws its own secret (migration 0004 drew the template's)."""
    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(text("UPDATE install SET secret = :secret WHERE id = 1"), {"secret": secrets.token_hex(32)})
    engine.dispose()


def _sqlite() -> Path:
    global _sqlite_template
    if _sqlite_template is None:
        folder = Path(tempfile.mkdtemp(prefix="dpoloop-template-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        path = folder / "db.sqlite3"
        upgrade_into(f"sqlite:///{path}")
        with sqlite3.connect(path) as db:  # everything in the main file: only it is copied
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        _sqlite_template = path
    return _sqlite_template
