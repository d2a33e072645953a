"""Reading an import's rows, whatever form they came in, as one shape: caption, two images, labels,
and (from a dpoloop export made with --latents) the stored latents.

- parquet in the Pick-a-Pic layout (a file or a folder of shards), streamed with pyarrow a batch at a
  time (no copy of it is written anywhere);
- a `datasets` folder written by `save_to_disk` (a DatasetDict's "train" split, or its only one): its
  Arrow files, memory-mapped;
- a folder of pairs: NAME_0.png and NAME_1.png beside a .jsonl whose lines hold `name`, `caption`
  and either `label_0`/`label_1` or `choice` (0, 1 or "tie").

Nothing outside the import root is read: every file is resolved (links followed) and checked against
it. Images are encoded bytes (a `datasets` Image struct's `bytes`); a row that names an image by path
or URL instead is bad, so no row makes the worker read another file or fetch anything.
"""

from __future__ import annotations

import io
import json
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from core.paths import resolve_within

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
IMAGE_FORMATS = ("PNG", "JPEG", "WEBP")  # the only decoders an import runs (no EPS, which runs Ghostscript)
COLUMNS = ("caption", "jpg_0", "jpg_1", "label_0", "label_1", "latents_0", "latents_1")


@dataclass
class SourceRow:
    index: int
    caption: str | None
    images: tuple  # two of: bytes, a datasets Image dict, a Path, or None
    labels: tuple[float | None, float | None]
    latents: tuple[bytes | None, bytes | None] = (None, None)
    problem: str | None = None  # why the row is bad before it is looked at


class Source:
    """Rows from any row on, a batch at a time: an import resumes at any row, and only one batch of
    rows is in memory."""

    def __init__(self, total: int, batches: Callable[[int, int], Iterator[list[SourceRow]]]):
        self.total = total
        self._batches = batches

    def batches(self, start: int, size: int) -> Iterator[list[SourceRow]]:
        """Batches of at most `size` rows, from row `start` to the end."""
        return self._batches(start, size)


def open_source(path: str, fmt: str, root: Path) -> Source:
    """ValueError for a source that is not (any more) under the import root."""
    found = resolve_within(root, Path(path))
    if found is None or not found.exists():
        raise ValueError(f"{path} is not under the import root {root}")
    if fmt == "folder":
        return _folder(found, root)
    if fmt == "datasets":
        return _parts([_arrow_part(file) for file in _saved_files(found, root)])
    # A dpoloop export folder holds votes.parquet beside its pairs-*.parquet shards: only the pairs.
    shards = sorted(found.rglob("pairs-*.parquet")) if found.is_dir() else []
    files = [found] if found.is_file() else shards or sorted(found.rglob("*.parquet"))
    return _parts([_parquet_part(file) for file in _files_in(files, root)])


def _file_under(path: Path, root: Path) -> Path | None:
    """The path resolved, when it is a regular file under the root after every link; else None."""
    resolved = resolve_within(root, path)
    return resolved if resolved is not None and resolved.is_file() else None


def _files_in(paths: list[Path], root: Path) -> list[Path]:
    """Each path, resolved: ValueError for one that leads out of the root or is no regular file."""
    found = [_file_under(path, root) for path in paths]
    for path, resolved in zip(paths, found, strict=True):
        if resolved is None:
            raise ValueError(f"{path} is not a file under the import root")
    return found


# A part is one file of rows: how many, and its record batches from a row on (at most `size` rows each).
Part = tuple[int, Callable[[int, int], Iterator[pa.RecordBatch]]]


def _parts(parts: list[Part]) -> Source:
    def batches(start: int, size: int) -> Iterator[list[SourceRow]]:
        first = 0  # index of the part's first row
        for count, read in parts:
            if start < first + count:
                index = max(start, first)
                for batch in read(index - first, size):
                    rows = batch.to_pylist()
                    yield [_row(index + i, row) for i, row in enumerate(rows)]
                    index += len(rows)
            first += count

    return Source(sum(count for count, _ in parts), batches)


def _parquet_part(path: Path) -> Part:
    def read(skip: int, size: int) -> Iterator[pa.RecordBatch]:
        file = pq.ParquetFile(path)
        columns = [c for c in COLUMNS if c in file.schema_arrow.names]
        group, before = 0, 0  # the row group holding row `skip`, and the rows before it
        while before + file.metadata.row_group(group).num_rows <= skip:
            before += file.metadata.row_group(group).num_rows
            group += 1
        skip -= before
        for batch in file.iter_batches(batch_size=size, row_groups=range(group, file.num_row_groups),
                                       columns=columns):  # fmt: skip
            if skip >= batch.num_rows:
                skip -= batch.num_rows
                continue
            yield batch.slice(skip)
            skip = 0

    return pq.read_metadata(path).num_rows, read


def _arrow_part(path: Path) -> Part:
    table = pa.ipc.open_stream(pa.memory_map(str(path))).read_all()  # mapped, not read: no copy in memory

    def read(skip: int, size: int) -> Iterator[pa.RecordBatch]:
        columns = [c for c in COLUMNS if c in table.column_names]
        return iter(table.select(columns).slice(skip).to_batches(max_chunksize=size))

    return table.num_rows, read


def _saved_files(folder: Path, root: Path) -> list[Path]:
    """The Arrow files of a `save_to_disk` folder (its "train" split, or its only one), each checked."""
    if not (folder / "state.json").is_file():
        splits = json.loads(_files_in([folder / "dataset_dict.json"], root)[0].read_text()).get("splits") or []
        if not splits:
            raise ValueError(f"{folder / 'dataset_dict.json'} names no split")
        folder = folder / ("train" if "train" in splits else str(splits[0]))
    state = json.loads(_files_in([folder / "state.json"], root)[0].read_text())
    return _files_in([folder / str(entry.get("filename")) for entry in state.get("_data_files", [])], root)


def _row(index: int, values: dict) -> SourceRow:
    return SourceRow(
        index=index,
        caption=values.get("caption"),
        images=(values.get("jpg_0"), values.get("jpg_1")),
        labels=(_float(values.get("label_0")), _float(values.get("label_1"))),
        latents=(values.get("latents_0"), values.get("latents_1")),
    )


def _folder(root_of_set: Path, root: Path) -> Source:
    entries = []
    for jsonl in _files_in(sorted(root_of_set.glob("*.jsonl")), root):
        for line in jsonl.read_text().splitlines():
            if line.strip():
                try:
                    entries.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    entries.append({"_error": f"{jsonl.name}: not JSON ({exc.msg})"})

    def image(name: str, side: int) -> Path | None:
        found = (root_of_set / f"{name}_{side}{suffix}" for suffix in IMAGE_SUFFIXES)
        return next((path for path in found if os.path.lexists(path)), None)  # a link out is bad, not missing

    def labels(entry: dict) -> tuple[float | None, float | None]:
        if "label_0" in entry or "label_1" in entry:
            return (_float(entry.get("label_0")), _float(entry.get("label_1")))
        choice = entry.get("choice")
        return {0: (1.0, 0.0), 1: (0.0, 1.0), "tie": (0.5, 0.5)}.get(choice, (None, None))

    def row(index: int) -> SourceRow:
        entry = entries[index] if isinstance(entries[index], dict) else {"_error": "a line that is no JSON object"}
        name = str(entry.get("name", ""))
        problem = entry.get("_error")
        if problem is None and ("/" in name or "\\" in name or ".." in name):
            problem = f"name {name[:100]!r} holds '/', '\\\\' or '..': names are file names in the set's folder"
        images = (None, None) if problem else (image(name, 0), image(name, 1))
        for side, path in enumerate(images):
            if path is not None and problem is None and _file_under(path, root) is None:
                problem = f"image {side} ({path.name}) leads out of the import root or is no regular file"
        return SourceRow(index, entry.get("caption"), images, labels(entry), problem=problem)

    def batches(start: int, size: int) -> Iterator[list[SourceRow]]:
        for first in range(start, len(entries), size):
            yield [row(index) for index in range(first, min(first + size, len(entries)))]

    return Source(len(entries), batches)


def _float(value) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def image_bytes(value) -> bytes | None:
    """The encoded bytes of an image value (for the row's content hash); None when there is none.
    ValueError for an image named by a path or URL instead of given: imports take bytes only."""
    if value is None:
        return None
    if isinstance(value, bytes):
        return value
    if isinstance(value, dict):
        if value.get("bytes"):
            return value["bytes"]
        if value.get("path"):
            raise ValueError("an image given as a path or URL, not its bytes: imports take image bytes only")
        return None
    if isinstance(value, Path):  # a folder of pairs' own file, checked against the import root
        return value.read_bytes()
    raise TypeError(f"an image of type {type(value).__name__}")


def open_image(data: bytes, max_pixels: int) -> Image.Image:
    """The image with its header read and nothing decoded yet; ValueError above `max_pixels`."""
    image = Image.open(io.BytesIO(data), formats=IMAGE_FORMATS)
    if image.width * image.height > max_pixels:
        raise ValueError(f"{image.width}×{image.height} pixels, more than the {max_pixels:,} an import decodes")
    return image


def decode(data: bytes, max_pixels: int) -> Image.Image:
    image = open_image(data, max_pixels)
    image.load()  # raise here, not later, for a truncated file
    return image.convert("RGB")


def stored_latents(data: bytes | None, shape: tuple[int, ...]) -> np.ndarray | None:
    """Latents exported by dpoloop, when they fit this model (else None: the images are encoded).
    ValueError for bytes that are not one whole .npy array: the header is read first, so one that
    claims a huge array allocates nothing."""
    if not data:
        return None
    stream = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(stream)
        read_header = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
        if version not in read_header:
            raise ValueError(f".npy format version {version}")
        claimed, _, dtype = read_header[version](stream)
    except (ValueError, OSError, SyntaxError) as exc:
        raise ValueError(f"latents that are no .npy array ({exc})") from exc
    if dtype.hasobject:
        raise ValueError("latents holding Python objects")
    size, follows = math.prod(claimed) * dtype.itemsize, len(data) - stream.tell()
    if size != follows:
        raise ValueError(f"latents whose header claims {claimed} ({size:,} bytes) with {follows:,} bytes after it")
    if tuple(claimed) != shape or dtype.kind != "f":
        return None
    return np.load(io.BytesIO(data), allow_pickle=False).astype(np.float32)
