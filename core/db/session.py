"""Engines and sessions. SQLite gets WAL and a busy timeout so the API and workers can share it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects.postgresql import Insert as PgInsert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from core.settings import get_settings


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=FULL")  # an acknowledged vote survives a power cut
    cursor.close()


# Connections a process keeps open to Postgres. The API runs at most this many requests' database work
# at once (app/api/main.py): with more threads, requests beyond the pool opened and closed a connection
# each, a Postgres backend started per burst (bench/labeling_load.py, saturated: 1 process 61-63 → 67
# votes/s, 2 processes 64-77 → 84-85, threads 40 → 20).
POOL_SIZE = 20


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # No pre-ping: it costs a round trip per request; recycling handles server-side timeouts.
    return create_engine(url, pool_recycle=1800, pool_size=POOL_SIZE, max_overflow=20)


def insert_for(session: Session, table) -> PgInsert | SqliteInsert:
    """This database's INSERT, which has `on_conflict_do_nothing(…).returning(…)` on both."""
    return (pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert)(table)


@lru_cache(maxsize=4)
def engine_for(url: str) -> Engine:
    return make_engine(url)


@lru_cache(maxsize=4)
def _sessionmaker(url: str) -> sessionmaker[Session]:
    return sessionmaker(bind=engine_for(url), expire_on_commit=False)


def new_session() -> Session:
    return _sessionmaker(get_settings().sqlalchemy_url)()


@lru_cache(maxsize=4)
def _read_sessionmaker(url: str) -> sessionmaker[Session]:
    return sessionmaker(bind=engine_for(url).execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False)


@contextmanager
def read_scope() -> Iterator[Session]:
    """A session for one read that needs no transaction: each statement commits on its own, which
    saves the BEGIN and COMMIT round trips (the token check on every request). Never write with it."""
    session = _read_sessionmaker(get_settings().sqlalchemy_url)()
    try:
        yield session
    finally:
        session.close()


@contextmanager
def session_scope() -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    session = new_session()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
