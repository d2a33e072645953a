"""Writing a file or a folder so that it appears whole or not at all: the bytes go to a temporary name
beside it (ending in .part, or a .tmp- folder, which no reader matches), are fsynced, and are renamed
into place."""

from __future__ import annotations

import errno
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

PARTIAL = ".part"


def write_whole(final: Path, data: bytes, durable_rename: bool = False) -> None:
    """`final` holds all of `data` or keeps what it held; with `durable_rename` the rename itself is
    fsynced too (it survives a power cut, not only a crash)."""
    partial = final.with_name(f"{final.name}.{uuid.uuid4().hex[:8]}{PARTIAL}")  # concurrent writers do not meet
    with open(partial, "wb", buffering=0) as f:
        f.write(data)
        os.fsync(f.fileno())
    os.replace(partial, final)
    if durable_rename:
        fsync_dir(final.parent)


def files_in(folder: Path) -> list[str]:
    """The regular files under `folder`, as sorted relative POSIX names (what a manifest lists)."""
    return sorted(p.relative_to(folder).as_posix() for p in Path(folder).rglob("*") if p.is_file())


def fsync_dir(path: Path) -> None:
    """A folder's entries (a rename into it, a new file) flushed to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(root: Path) -> None:
    """Every file and folder under `root` (itself included) flushed to the disk."""
    for directory, _, files in os.walk(root):
        for name in files:
            with open(Path(directory) / name, "rb") as f:
                os.fsync(f.fileno())
        fsync_dir(Path(directory))


def write_folder_whole(final: Path, fill: Callable[[Path], None]) -> Path:
    """`fill(tmp)` writes a folder beside `final`, which is fsynced and renamed into place: readers see all
    of it or nothing. An existing `final` is never overwritten (the rename fails)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".tmp-{final.name}-{uuid.uuid4().hex[:8]}"
    try:
        tmp.mkdir()
        fill(tmp)
        fsync_tree(tmp)
        try:
            os.rename(tmp, final)  # atomic on one filesystem; fails if final exists and is not empty
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                raise FileExistsError(f"{final} exists already") from exc
            raise
        fsync_dir(final.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final

