"""Services on SQLite, without Redis or a worker: tasks are caught at the queue's seam."""

from __future__ import annotations

import pytest

from core.queue import sending_to
from tests.conftest import apply_settings


@pytest.fixture
def sqlite_db(monkeypatch, tmp_path):
    """This process on a migrated SQLite database and a private data dir, with no broker behind it."""
    from core.settings import get_settings
    from tests.helpers.migrated import migrated

    apply_settings(monkeypatch, database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}", data_dir=tmp_path / "data",
                   broker_url="memory://")  # fmt: skip
    migrated()
    get_settings().ensure_dirs()
    yield get_settings()
    monkeypatch.undo()
    get_settings.cache_clear()


class Outbox:
    """The tasks a service sent, each with what a worker would have found in the database then."""

    def __init__(self, visible=None):
        self.sent: list[tuple[str, list]] = []
        self.visible = visible  # (name, args) -> bool: was the row the task needs committed?
        self.seen: list[bool] = []

    def __call__(self, name: str, args: list) -> None:
        self.sent.append((name, args))
        if self.visible is not None:
            self.seen.append(self.visible(name, args))


@pytest.fixture
def outbox():
    box = Outbox()
    with sending_to(box):
        yield box


@pytest.fixture
def broker_down():
    def refuse(name: str, args: list) -> None:
        raise ConnectionRefusedError("no broker")

    with sending_to(refuse):
        yield
