"""An import on the train worker, a batch of rows at a time (see core/services/imports.py)."""

from __future__ import annotations

import hashlib
import logging
import os
from collections import Counter
from pathlib import Path

import numpy as np
from tqdm import tqdm

from core.repo.imports import NewPair
from core.services import imports, prompt_filter
from core.settings import Settings
from worker.imports.encode import LatentEncoder
from worker.imports.sources import SourceRow, decode, image_bytes, iter_batches, open_source, stored_latents

log = logging.getLogger(__name__)
BATCH = 64  # rows per transaction: the most an interrupted import reads twice
MAX_CAPTION = 1000


def run_import(set_id: int, settings: Settings) -> None:
    job = imports.claim(set_id)
    if job is None:
        return
    try:
        source = open_source(job.source, job.format, settings.data_dir / "hf-cache")
        imports.set_total(set_id, source.total)
        encoder = LatentEncoder(settings.base_model)
        with tqdm(total=source.total, initial=job.rows_done, desc=f"import {job.name}", dynamic_ncols=True) as bar:
            for rows in iter_batches(source, job.rows_done, BATCH):
                pairs, counts, bad = prepare(rows, encoder, settings.latents_dir, settings)
                imports.record_batch(set_id, pairs, rows[-1].index + 1, dict(counts), bad)
                bar.update(len(rows))
    except Exception as exc:  # the source itself is unreadable, or the model cannot load: say why
        log.exception("import %s failed", job.name)
        imports.fail(set_id, f"{type(exc).__name__}: {exc}")
        return
    imports.finish(set_id)


def prepare(rows: list[SourceRow], encoder: LatentEncoder, latents_dir: Path,
            settings: Settings) -> tuple[list[NewPair], Counter, list]:  # fmt: skip
    """This batch's new pairs with their latents written; counts (ties, unlabeled, duplicates, bad)
    and the bad rows with their reasons (a caption the prompt filter refuses is one)."""
    counts: Counter = Counter()
    bad: list[dict] = []
    ready = []  # (row, caption, winner data, loser data, hash, stored winner/loser latents)
    rules = prompt_filter.rules()
    for row in rows:
        try:
            refused = row.caption and prompt_filter.refusal(row.caption, settings, rules)
            item = refused or _check(row, encoder, counts)
        except (OSError, ValueError, TypeError) as exc:
            item, reason = None, f"{type(exc).__name__}: {exc}"
            counts["bad"] += 1
            bad.append({"row": row.index, "reason": reason})
        if isinstance(item, str):  # a reason the row is bad
            counts["bad"] += 1
            bad.append({"row": row.index, "reason": item})
        elif item is not None:
            ready.append(item)
    seen = imports.known([item[4] for item in ready])
    fresh, hashes = [], set()
    for item in ready:
        if item[4] in seen or item[4] in hashes:
            counts["duplicates"] += 1
        else:
            hashes.add(item[4])
            fresh.append(item)
    to_encode = [image for item in fresh if item[5] is None for image in (decode(item[2]), decode(item[3]))]
    encoded = iter(encoder.encode(to_encode)) if to_encode else iter(())
    pairs = []
    for row, caption, _, _, row_hash, stored in fresh:
        winner, loser = stored if stored is not None else (next(encoded), next(encoded))
        paths = [_save(latents_dir, f"imports/{row_hash[:2]}/{row_hash}_{side}.npy", array)
                 for side, array in (("w", winner), ("l", loser))]  # fmt: skip
        pairs.append(NewPair(row.index, caption, paths[0], paths[1], row_hash))
    return pairs, counts, bad


def _check(row: SourceRow, encoder: LatentEncoder, counts: Counter):
    """None for a row counted and skipped (a tie, no label), a reason string for a bad row, or what
    the batch needs to import it."""
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
        decode(blob)  # undecodable: raises, and the row is bad
    winner_side = 0 if first > second else 1
    digest = hashlib.sha256()
    for part in (caption.encode(), hashlib.sha256(data[0]).digest(), hashlib.sha256(data[1]).digest(),
                 str(winner_side).encode()):  # fmt: skip
        digest.update(part)
    latents = [stored_latents(blob, encoder.shape) for blob in row.latents]
    stored = None
    if all(x is not None for x in latents):
        stored = (latents[winner_side], latents[1 - winner_side])
    return row, caption, data[winner_side], data[1 - winner_side], digest.hexdigest(), stored


def _save(root: Path, relpath: str, array: np.ndarray) -> str:
    """Written whole or not at all: a crash leaves no half file for a round to read."""
    path = root / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    with open(temporary, "wb") as f:
        np.save(f, np.asarray(array, dtype=np.float32))
        f.flush()
        os.fsync(f.fileno())
    os.replace(temporary, path)
    return relpath
