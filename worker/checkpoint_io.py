"""Writing a checkpoint (or any folder of weights and a card: the preference model's versions too) so that
a crash never leaves half of one where a reader could find it, and reading one on this machine.

core/storage.py publishes the folder whole: renamed into place in the data dir, or uploaded file by file
and then its manifest in an object store. A folder without its manifest there is garbage from a crash.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

from core.files import write_folder_whole
from core.refs import CheckpointRef
from core.settings import Settings
from core.storage import local_folder, storage

CARD = "dpoloop_checkpoint.json"


def _with_card(write: Callable[[Path], object], card: dict) -> Callable[[Path], None]:
    def fill(folder: Path) -> None:
        write(folder)
        (folder / CARD).write_text(json.dumps(card, indent=1, sort_keys=True, default=str))

    return fill


def publish_folder(settings: Settings, key: str, write: Callable[[Path], object], card: dict) -> str:
    """write(folder) puts the weights in, the card (lineage, config, metrics) goes beside them, and the
    folder is published under `key` (checkpoints/…, reward/…), which is returned for the row to store."""
    storage(settings).put_dir(key, _with_card(write, card))
    return key


def write_atomically(final: Path, write: Callable[[Path], object], card: dict) -> Path:
    """The same folder written to a path on this machine (outside any install's storage: tests, benches)."""
    return write_folder_whole(final, _with_card(write, card))


def on_this_machine(settings: Settings, ref: CheckpointRef) -> CheckpointRef:
    """The reference with its folder on this machine (from an object store: downloaded once into the cache)."""
    return ref if ref.path is None else dataclasses.replace(ref, path=str(local_folder(settings, ref.path)))


def read_card(directory: Path) -> dict:
    return json.loads((directory / CARD).read_text())
