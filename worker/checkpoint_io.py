"""Writing a checkpoint (or any folder of weights and a card: the preference model's versions too) so that
a crash never leaves half of one where a reader could find it.

Everything goes to a temporary directory beside the final one; files and directories are fsynced;
one rename publishes it. A directory without the final name is garbage from a crash, nothing more.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

CARD = "dpoloop_checkpoint.json"


def _fsync_tree(root: Path) -> None:
    for directory, _, files in os.walk(root):
        for name in files:
            with open(Path(directory) / name, "rb") as f:
                os.fsync(f.fileno())
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_atomically(final: Path, write: Callable[[Path], None], card: dict) -> Path:
    """write(tmp_dir) puts the weights in; the card (lineage, config, metrics) is added beside them."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".tmp-{final.name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
        write(tmp)
        (tmp / CARD).write_text(json.dumps(card, indent=1, sort_keys=True, default=str))
        _fsync_tree(tmp)
        os.rename(tmp, final)  # atomic on one filesystem; fails if final exists (never overwrite)
        fd = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def read_card(directory: Path) -> dict:
    return json.loads((directory / CARD).read_text())
