"""The default's file broker: a reader never sees half a message, and many processes lose none."""

from __future__ import annotations

import json
import multiprocessing
import os

import pytest
from kombu import Connection
from kombu.transport import filesystem

from core import file_broker, files  # noqa: F401  (file_broker registers the dpoloopfs:// transport)


def options(tmp_path) -> dict:
    folders = {name: tmp_path / name for name in ("queue", "processed", "control")}
    for folder in folders.values():
        folder.mkdir(exist_ok=True)
    return {"data_folder_in": str(folders["queue"]), "data_folder_out": str(folders["queue"]),
            "processed_folder": str(folders["processed"]), "control_folder": str(folders["control"])}  # fmt: skip


def channel(url: str, tmp_path):
    return Connection(url, transport_options=options(tmp_path)).channel()


def test_kombus_own_transport_hands_a_reader_an_empty_message(tmp_path, monkeypatch):
    """The failure the default had: a reader that comes between a file's creation and its first
    write moves the empty file away and fails on it (the message is gone)."""
    writer, reader = channel("filesystem://", tmp_path), channel("filesystem://", tmp_path)
    real_lock, seen = filesystem.lock, []

    def lock_then_let_a_reader_in(f, flags):
        real_lock(f, flags)
        if not seen and f.name.endswith(".generate.msg"):
            try:
                seen.append(reader._get("generate"))
            except Exception as exc:  # what a worker hit
                seen.append(exc)

    monkeypatch.setattr(filesystem, "lock", lock_then_let_a_reader_in)
    writer._put("generate", {"body": "task"})
    assert isinstance(seen[0], json.JSONDecodeError)


def test_a_reader_never_sees_a_message_before_it_is_whole(tmp_path, monkeypatch):
    writer, reader = channel("dpoloopfs://", tmp_path), channel("dpoloopfs://", tmp_path)
    real_fsync, seen = os.fsync, []

    def fsync_then_let_a_reader_in(fd):
        real_fsync(fd)
        if not seen:
            try:
                seen.append(reader._get("generate"))
            except Exception as exc:
                seen.append(exc)

    monkeypatch.setattr(files.os, "fsync", fsync_then_let_a_reader_in)  # the broker writes through core.files
    writer._put("generate", {"body": "task"})
    assert type(seen[0]).__name__ == "Empty"  # not there yet: neither half of it nor an error
    assert reader._get("generate") == {"body": "task"}


def _produce(url: str, opts: dict, start: int, count: int) -> None:
    with Connection(url, transport_options=opts) as conn:
        ch = conn.channel()
        for i in range(start, start + count):
            ch._queue_bind("", "generate", None, "generate")  # every process binds, as workers do
            ch._put("generate", {"n": i})


def _consume(url: str, opts: dict, producers_done, out) -> None:
    """Take messages until the producers are done and the queue stays empty."""
    import time

    got, errors, idle = [], [], 0
    with Connection(url, transport_options=opts) as conn:
        ch = conn.channel()
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and idle < 20:
            try:
                got.append(ch._get("generate")["n"])
                idle = 0
            except Exception as exc:
                if type(exc).__name__ != "Empty":
                    errors.append(repr(exc))
                idle = idle + 1 if producers_done.is_set() else 0
                time.sleep(0.005)
    out.put((got, errors))


@pytest.mark.slow
def test_many_writers_and_readers_lose_nothing(tmp_path):
    opts, ctx = options(tmp_path), multiprocessing.get_context("spawn")
    writers, per_writer, readers = 4, 150, 3
    out, producers_done = ctx.Queue(), ctx.Event()
    consumers = [ctx.Process(target=_consume, args=("dpoloopfs://", opts, producers_done, out))
                 for _ in range(readers)]  # fmt: skip
    producers = [ctx.Process(target=_produce, args=("dpoloopfs://", opts, w * per_writer, per_writer))
                 for w in range(writers)]  # fmt: skip
    for p in consumers + producers:
        p.start()
    for p in producers:
        p.join(60)
    producers_done.set()
    results = [out.get(timeout=90) for _ in consumers]
    for p in consumers:
        p.join(10)
    received = sorted(n for got, _ in results for n in got)
    assert [e for _, errors in results for e in errors] == []
    assert received == list(range(writers * per_writer))  # every message once
    table = channel("dpoloopfs://", tmp_path).get_table("")
    assert [tuple(q) for q in table] == [("generate", "", "generate")]


def test_a_reader_that_connects_before_the_folders_exist_makes_them(tmp_path):
    """A worker may start before any other process made the broker's folders (a crash in kombu's
    own transport: listing a missing folder is unrecoverable for a Celery worker)."""
    from queue import Empty

    folders = {name: tmp_path / "broker" / name for name in ("queue", "processed", "control")}
    transport = {"data_folder_in": str(folders["queue"]), "data_folder_out": str(folders["queue"]),
                 "processed_folder": str(folders["processed"]), "control_folder": str(folders["control"])}  # fmt: skip
    reader = Connection("dpoloopfs://", transport_options=transport).channel()
    with pytest.raises(Empty):
        reader._get("train")
    assert all(folder.is_dir() for folder in folders.values())
