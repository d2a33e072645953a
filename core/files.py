"""Writing a file so that it appears whole or not at all: the bytes go to a temporary name beside it
(ending in .part, which no reader matches), are fsynced, and are renamed over the final name."""

from __future__ import annotations

import os
import uuid
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
        fd = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
