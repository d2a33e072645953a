"""Reading an import's rows, whatever form they came in, as one shape: caption, two images, labels,
and (from a dpoloop export made with --latents) the stored latents.

- parquet in the Pick-a-Pic layout (a file or a folder of shards), read with `datasets`;
- a `datasets` folder written by `save_to_disk` (a DatasetDict's "train" split, or its only one);
- a folder of pairs: NAME_0.png and NAME_1.png beside a .jsonl whose lines hold `name`, `caption`
  and either `label_0`/`label_1` or `choice` (0, 1 or "tie").

Images may be encoded bytes, `datasets` Image dicts ({"bytes", "path"}) or PIL images.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


@dataclass
class SourceRow:
    index: int
    caption: str | None
    images: tuple  # two of: bytes, a datasets Image dict, a PIL image, a Path, or None
    labels: tuple[float | None, float | None]
    latents: tuple[bytes | None, bytes | None] = (None, None)


class Source:
    """Random access by row range: an import resumes at any row."""

    def __init__(self, total: int, read):
        self.total = total
        self._read = read

    def rows(self, start: int, stop: int) -> list[SourceRow]:
        return self._read(start, stop)


def open_source(path: str, fmt: str, cache_dir: Path) -> Source:
    if fmt == "folder":
        return _folder(Path(path))
    import datasets

    if fmt == "datasets":
        loaded = datasets.load_from_disk(path)
        if isinstance(loaded, datasets.DatasetDict):
            loaded = loaded["train"] if "train" in loaded else next(iter(loaded.values()))
    else:
        root = Path(path)
        # A dpoloop export folder holds votes.parquet beside its pairs-*.parquet shards: only the pairs.
        shards = sorted(root.rglob("pairs-*.parquet")) if root.is_dir() else []
        files = [str(root)] if root.is_file() else [str(p) for p in shards or sorted(root.rglob("*.parquet"))]
        loaded = datasets.load_dataset("parquet", data_files=files, split="train", cache_dir=str(cache_dir))
    return _dataset(loaded)


def _dataset(data) -> Source:
    has_latents = "latents_0" in data.column_names and "latents_1" in data.column_names

    def read(start: int, stop: int) -> list[SourceRow]:
        batch = data[start:stop]
        return [
            SourceRow(
                index=start + i,
                caption=batch["caption"][i] if "caption" in batch else None,
                images=tuple(batch[c][i] if c in batch else None for c in ("jpg_0", "jpg_1")),
                labels=(_label(batch, "label_0", i), _label(batch, "label_1", i)),
                latents=(batch["latents_0"][i], batch["latents_1"][i]) if has_latents else (None, None),
            )
            for i in range(stop - start)
        ]  # fmt: skip

    return Source(len(data), read)


def _label(batch: dict, column: str, i: int) -> float | None:
    value = batch[column][i] if column in batch else None
    return None if value is None else float(value)


def _folder(root: Path) -> Source:
    entries = []
    for jsonl in sorted(root.glob("*.jsonl")):
        for line in jsonl.read_text().splitlines():
            if line.strip():
                try:
                    entries.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    entries.append({"_error": f"{jsonl.name}: not JSON ({exc.msg})"})

    def image(name: str, side: int) -> Path | None:
        found = (root / f"{name}_{side}{suffix}" for suffix in IMAGE_SUFFIXES)
        return next((path for path in found if path.is_file()), None)

    def labels(entry: dict) -> tuple[float | None, float | None]:
        if "label_0" in entry or "label_1" in entry:
            return (_float(entry.get("label_0")), _float(entry.get("label_1")))
        choice = entry.get("choice")
        return {0: (1.0, 0.0), 1: (0.0, 1.0), "tie": (0.5, 0.5)}.get(choice, (None, None))

    def read(start: int, stop: int) -> list[SourceRow]:
        rows = []
        for index in range(start, stop):
            entry = entries[index]
            name = str(entry.get("name", ""))
            rows.append(SourceRow(index, None if "_error" in entry else entry.get("caption"),
                                  (image(name, 0), image(name, 1)), labels(entry)))  # fmt: skip
        return rows

    return Source(len(entries), read)


def _float(value) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def image_bytes(value) -> bytes | None:
    """The encoded bytes of an image value (for the row's content hash); None when there is none."""
    if value is None:
        return None
    if isinstance(value, bytes):
        return value
    if isinstance(value, dict):
        if value.get("bytes"):
            return value["bytes"]
        return Path(value["path"]).read_bytes() if value.get("path") else None
    if isinstance(value, Path):
        return value.read_bytes()
    if isinstance(value, Image.Image):
        buffer = io.BytesIO()
        value.save(buffer, format="PNG")
        return buffer.getvalue()
    raise TypeError(f"an image of type {type(value).__name__}")


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()  # raise here, not later, for a truncated file
    return image.convert("RGB")


def stored_latents(data: bytes | None, shape: tuple[int, ...]) -> np.ndarray | None:
    """Latents exported by dpoloop, when they fit this model (else the images are encoded)."""
    if not data:
        return None
    try:
        array = np.load(io.BytesIO(data))
    except (ValueError, OSError):
        return None
    return array.astype(np.float32) if array.shape == shape else None


def iter_batches(source: Source, start: int, size: int) -> Iterator[list[SourceRow]]:
    for first in range(start, source.total, size):
        yield source.rows(first, min(first + size, source.total))
