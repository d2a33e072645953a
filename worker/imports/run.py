"""An import on the train worker, a batch of rows at a time (see core/services/imports.py)."""

from __future__ import annotations

import hashlib
import io
import logging
import shutil
from collections import Counter
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from core.repo.imports import NewPair
from core.services import imports, prompt_filter
from core.services.prompt_filter import ClassifierUnavailable
from core.settings import Settings
from core.storage import IMPORTS, LATENTS, Storage, storage
from worker.imports.encode import LatentEncoder
from worker.imports.sources import SourceRow, decode, image_bytes, open_image, open_source, stored_latents

log = logging.getLogger(__name__)
BATCH = 64  # rows per transaction: the most an interrupted import reads twice
ENCODE_PAIRS = 4  # pairs decoded and VAE-encoded at once: at most 8 decoded images in memory, not a batch's 128
MAX_CAPTION = 1000


def max_pixels(size: int) -> int:
    """The largest image an import decodes, for a model generating size×size: 4× the side of the model's
    or of a 1024 one, whichever is larger (16.8 MP for SD 1.x to SDXL and FLUX at 1024: 50 MB decoded,
    so ENCODE_PAIRS' 8 images stay under half a GB). A real generation (1 MP at SDXL's 1024², Pick-a-Pic's
    at most that) passes with room for upscales; an 89 MP bomb does not, and is never decoded."""
    return (4 * max(size, 1024)) ** 2


@dataclass(frozen=True)
class Ready:
    """A row that passed every check, with what its pair needs."""

    row: SourceRow
    caption: str
    winner: bytes
    loser: bytes
    row_hash: str
    stored: tuple | None  # the stored (winner, loser) latents, when they fit this model


def run_import(set_id: int, settings: Settings) -> None:
    job = imports.claim(set_id)
    if job is None:
        return
    try:
        # Imports streamed rows through a datasets cache here before: its Arrow copies are nobody's now.
        shutil.rmtree(settings.data_dir / "hf-cache", ignore_errors=True)
        store = storage(settings)
        if store.local:
            source = open_source(job.source, job.format, settings.imports_dir)
        else:  # uploaded to the store's imports/: read from this machine's cache of it
            source = open_source(str(store.local_tree(job.source)), job.format, store.cache_dir / IMPORTS)
        imports.set_total(set_id, source.total)
        encoder = LatentEncoder(settings.base_model)
        with tqdm(total=source.total, initial=job.rows_done, desc=f"import {job.name}", dynamic_ncols=True) as bar:
            for rows in source.batches(job.rows_done, BATCH):
                pairs, counts, bad = prepare(rows, encoder, storage(settings), settings)
                imports.record_batch(set_id, pairs, rows[-1].index + 1, dict(counts), bad)
                bar.update(len(rows))
    except Exception as exc:  # the source itself is unreadable, or the model cannot load: say why
        log.exception("import %s failed", job.name)
        imports.fail(set_id, f"{type(exc).__name__}: {exc}")
        return
    imports.finish(set_id)


def prepare(rows: list[SourceRow], encoder: LatentEncoder, store: Storage,
            settings: Settings) -> tuple[list[NewPair], Counter, list]:  # fmt: skip
    """This batch's new pairs with their latents written; counts (ties, unlabeled, duplicates, bad)
    and the bad rows with their reasons (a caption the prompt filter refuses is one). Whatever one
    row's data makes fail (an undecodable or oversized image, corrupt latents, even MemoryError) makes
    that row bad, never the import."""
    counts: Counter = Counter()
    bad: list[dict] = []

    def refuse(row: SourceRow, reason: str) -> None:
        counts["bad"] += 1
        bad.append({"row": row.index, "reason": reason})

    limit = max_pixels(encoder.size)
    ready: list[Ready] = []
    rules = prompt_filter.rules()
    for row in rows:
        try:
            item = _check(row, encoder, counts, limit)
            if isinstance(item, Ready):
                item = prompt_filter.refusal(item.caption, settings, rules) or item
        except ClassifierUnavailable:
            raise  # the classifier's fault, not the row's: the import fails and says so
        except Exception as exc:  # anything one row's data raises makes that row bad
            item = f"{type(exc).__name__}: {exc}"
        if isinstance(item, str):  # a reason the row is bad
            refuse(row, item)
        elif item is not None:
            ready.append(item)
    seen = imports.known([item.row_hash for item in ready])
    fresh, hashes = [], set()
    for item in ready:
        if item.row_hash in seen or item.row_hash in hashes:
            counts["duplicates"] += 1
        else:
            hashes.add(item.row_hash)
            fresh.append(item)
    encoded = _encode(fresh, encoder, limit, refuse)
    pairs = []
    for item in fresh:
        latents = item.stored or encoded.get(item.row_hash)
        if latents is None:  # its images would not decode: counted bad
            continue
        paths = [_save(store, f"imports/{item.row_hash[:2]}/{item.row_hash}_{side}.npy", array)
                 for side, array in zip("wl", latents, strict=True)]  # fmt: skip
        pairs.append(NewPair(item.row.index, item.caption, paths[0], paths[1], item.row_hash))
    return pairs, counts, bad


def _encode(items: list[Ready], encoder: LatentEncoder, limit: int, refuse) -> dict[str, tuple]:
    """(winner, loser) latents by row hash for the items without stored latents, decoded and encoded
    ENCODE_PAIRS at a time; an item whose images do not decode is refused."""
    todo = [item for item in items if item.stored is None]
    encoded = {}
    for first in range(0, len(todo), ENCODE_PAIRS):
        chunk, images = [], []
        for item in todo[first : first + ENCODE_PAIRS]:
            try:
                pair = [decode(item.winner, limit), decode(item.loser, limit)]
            except Exception as exc:  # a truncated file, a decoder's error: this row is bad
                refuse(item.row, f"{type(exc).__name__}: {exc}")
                continue
            chunk.append(item)
            images += pair
        if chunk:  # the encoder failing is no row's fault: the import fails, and resumes here
            latents = encoder.encode(images)
            encoded |= {item.row_hash: (latents[2 * i], latents[2 * i + 1]) for i, item in enumerate(chunk)}
    return encoded


def _check(row: SourceRow, encoder: LatentEncoder, counts: Counter, limit: int) -> Ready | str | None:
    """None for a row counted and skipped (a tie, no label), a reason string for a bad row, or what
    the batch needs to import it. Images are only opened here (their header read, their size checked)."""
    if row.problem:
        return row.problem
    if row.caption is not None and not isinstance(row.caption, str):
        return "caption is not text"
    caption = (row.caption or "").strip()
    if not caption:
        return "empty caption"
    if len(caption) > MAX_CAPTION:
        return f"caption longer than {MAX_CAPTION} characters"
    first, second = row.labels
    if first is None or second is None:
        return "missing label"
    if first == second:
        counts["ties" if first > 0 else "unlabeled"] += 1
        return None
    data = [image_bytes(image) for image in row.images]
    for side, blob in enumerate(data):
        if blob is None:
            return f"image {side} missing"
        open_image(blob, limit)  # unidentifiable or too large: raises, and the row is bad
    winner_side = 0 if first > second else 1
    digest = hashlib.sha256()
    for part in (caption.encode(), hashlib.sha256(data[0]).digest(), hashlib.sha256(data[1]).digest(),
                 str(winner_side).encode()):  # fmt: skip
        digest.update(part)
    latents = [stored_latents(blob, encoder.shape) for blob in row.latents]
    stored = None
    if all(x is not None for x in latents):
        stored = (latents[winner_side], latents[1 - winner_side])
    return Ready(row, caption, data[winner_side], data[1 - winner_side], digest.hexdigest(), stored)


def _save(store: Storage, relpath: str, array: np.ndarray) -> str:
    """Written whole or not at all (the storage's promise): a crash leaves no half file for a round."""
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array, dtype=np.float32))
    store.write_bytes(f"{LATENTS}/{relpath}", buffer.getvalue())
    return relpath
