"""Export: the votes as parquet that the field's tools read as they are.

Pairs, one row per comparison with a decision, in the Pick-a-Pic v2 layout that the Diffusion-DPO
reference trainer reads (`caption`, `jpg_0`/`jpg_1` image bytes, `label_0`/`label_1`, uids,
`model_0`/`model_1`, a pseudonymous `user_id`, ...), plus dpoloop's own columns; and votes, one row
per vote, flat, for analysis (parquet and CSV). Image 0 is the comparison's generation A.

A decision is the majority of decisive votes (1/0); an even split or only ties is a tie (0.5/0.5,
exported with include_ties); both-bad and skips decide nothing. Rows come in comparison order, so
the same filters on the same database give the same rows in the same order. Evaluation and match
rows carry no seeds (seed_0/seed_1 null).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from core.db.session import session_scope
from core.repo import export as repo
from core.repo.export import ComparisonRow, ImageRow, VoteRow
from core.services import campaigns
from core.settings import Settings
from core.states import DECISIVE, Choice, ComparisonKind
from core.storage import LATENTS, MEDIA, Storage, storage

KINDS = {"train": [ComparisonKind.train], "eval": [ComparisonKind.eval, ComparisonKind.match],
         "all": list(ComparisonKind)}  # fmt: skip
BATCH = 500  # comparisons read per query
SHARD_ROWS = 2000  # pair rows per parquet file


@dataclass(frozen=True)
class ExportFilter:
    since: datetime | None = None  # only comparisons with votes cast at or after this
    kind: str = "train"  # train | eval (promotion evaluations and arena matches) | all
    include_ties: bool = False
    exclude_disabled: bool = False  # leave out the votes of disabled labelers
    latents: bool = False  # add the stored latents (.npy bytes): dpoloop re-imports without encoding
    campaign: str = campaigns.DEFAULT  # whose comparisons


@dataclass
class ExportCounts:
    comparisons: int = 0  # voted comparisons read
    pairs: int = 0  # rows written
    ties: int = 0  # of which ties
    undecided: int = 0  # only both-bad or skips (or ties, without include_ties)
    missing_files: int = 0  # an image or latents file is gone (retention): the row is left out
    votes: int = 0


def pair_schema(latents: bool) -> pa.Schema:
    columns = [
        ("caption", pa.string()), ("jpg_0", pa.binary()), ("jpg_1", pa.binary()),
        ("label_0", pa.float64()), ("label_1", pa.float64()),
        ("image_0_uid", pa.string()), ("image_1_uid", pa.string()), ("best_image_uid", pa.string()),
        ("model_0", pa.string()), ("model_1", pa.string()), ("user_id", pa.string()),
        ("created_at", pa.timestamp("us", tz="UTC")), ("has_label", pa.bool_()), ("are_different", pa.bool_()),
        # dpoloop's own
        ("comparison_id", pa.int64()), ("kind", pa.string()), ("seed_0", pa.int64()), ("seed_1", pa.int64()),
        ("num_inference_steps", pa.int32()), ("guidance_scale", pa.float64()), ("width", pa.int32()),
        ("height", pa.int32()), ("votes_0", pa.int32()), ("votes_1", pa.int32()), ("votes_tie", pa.int32()),
        ("votes_both_bad", pa.int32()), ("votes_skip", pa.int32()), ("decision_ms", pa.list_(pa.int32())),
        ("user_ids", pa.list_(pa.string())),
    ]  # fmt: skip
    if latents:
        columns += [("latents_0", pa.binary()), ("latents_1", pa.binary())]
    return pa.schema(columns)


VOTE_SCHEMA = pa.schema([
    ("vote_id", pa.int64()), ("comparison_id", pa.int64()), ("kind", pa.string()), ("caption", pa.string()),
    ("user_id", pa.string()), ("choice", pa.string()), ("chosen_image_uid", pa.string()),
    ("left_image_uid", pa.string()), ("image_0_uid", pa.string()), ("image_1_uid", pa.string()),
    ("model_0", pa.string()), ("model_1", pa.string()), ("decision_ms", pa.int32()),
    ("created_at", pa.timestamp("us", tz="UTC")), ("guidelines_version", pa.int32()),
])  # fmt: skip


def _batches(flt: ExportFilter) -> Iterator[tuple[list[ComparisonRow], dict[int, list[VoteRow]], dict, dict, dict]]:
    """Per batch of comparisons: them, their votes (filtered), their images, checkpoint names, pseudonyms."""
    campaign_id = campaign_of(flt)
    after = 0
    while True:
        with session_scope() as session:
            batch = repo.comparison_batch(session, after, BATCH, KINDS[flt.kind], flt.since, campaign_id)
            if not batch:
                return
            votes: dict[int, list[VoteRow]] = {c.id: [] for c in batch}
            for vote in repo.votes_of(session, [c.id for c in batch]):
                if not (flt.exclude_disabled and not vote.labeler_active):
                    votes[vote.comparison_id].append(vote)
            images = repo.images_of(session, {g for c in batch for g in (c.generation_a_id, c.generation_b_id)})
            names = repo.checkpoint_names(session)
            users = {v.labeler_id: repo.pseudonym(session, v.labeler_id) for vs in votes.values() for v in vs}
        yield batch, votes, images, names, users
        after = batch[-1].id


def campaign_of(flt: ExportFilter) -> int:
    """The id of the campaign the filter names; UnknownCampaign if there is none (asked before a stream starts,
    so the answer can still be a 404)."""
    with session_scope() as session:
        return campaigns.by_name(session, flt.campaign).id


def _decision(votes: list[VoteRow], a: int, b: int) -> tuple[float, float] | None:
    for_a = sum(v.choice in DECISIVE and v.winner_generation_id == a for v in votes)
    for_b = sum(v.choice in DECISIVE and v.winner_generation_id == b for v in votes)
    if for_a != for_b:
        return (1.0, 0.0) if for_a > for_b else (0.0, 1.0)
    if for_a or any(v.choice == Choice.tie for v in votes):
        return (0.5, 0.5)
    return None


def _read(store: Storage, prefix: str, relpath: str | None) -> bytes | None:
    """The file's bytes; None when the row names none or it is gone (retention): the row says so."""
    if not relpath:
        return None
    try:
        return store.read_bytes(f"{prefix}/{relpath}")
    except FileNotFoundError:
        return None


def pair_rows(settings: Settings, flt: ExportFilter, counts: ExportCounts) -> Iterator[dict]:
    for batch, votes, images, names, users in _batches(flt):
        for c in batch:
            counts.comparisons += 1
            row = _pair_row(settings, flt, c, votes[c.id], images, names, users, counts)
            if row is not None:
                counts.pairs += 1
                counts.ties += row["label_0"] == 0.5
                yield row


def _pair_row(settings, flt, c: ComparisonRow, votes: list[VoteRow], images: dict[int, ImageRow], names, users,
              counts: ExportCounts) -> dict | None:  # fmt: skip
    a, b = images[c.generation_a_id], images[c.generation_b_id]
    label = _decision(votes, a.id, b.id)
    if label is None or (label == (0.5, 0.5) and not flt.include_ties):
        counts.undecided += 1
        return None
    store = storage(settings)
    files = [_read(store, MEDIA, a.image_path), _read(store, MEDIA, b.image_path)]
    if flt.latents:
        files += [_read(store, LATENTS, a.latents_path), _read(store, LATENTS, b.latents_path)]
    if any(f is None for f in files):
        counts.missing_files += 1
        return None
    counted = [v for v in votes if v.choice in (*DECISIVE, Choice.tie)]
    choices = [v.choice for v in votes]
    decisive_for = [v.winner_generation_id for v in votes if v.choice in DECISIVE]
    best = "" if label == (0.5, 0.5) else (a.public_id if label[0] == 1.0 else b.public_id)
    # An evaluation's seeds are its own secret: with them, whoever holds an export renders its images.
    seeds = (None, None) if c.kind in KINDS["eval"] else (a.seed, b.seed)
    row = {
        "caption": c.prompt, "jpg_0": files[0], "jpg_1": files[1], "label_0": label[0], "label_1": label[1],
        "image_0_uid": a.public_id, "image_1_uid": b.public_id, "best_image_uid": best,
        "model_0": names.get(a.checkpoint_id, ""), "model_1": names.get(b.checkpoint_id, ""),
        "user_id": users[counted[0].labeler_id], "created_at": counted[-1].created_at, "has_label": True,
        "are_different": a.public_id != b.public_id, "comparison_id": c.id, "kind": c.kind.value,
        "seed_0": seeds[0], "seed_1": seeds[1], "num_inference_steps": a.params.get("num_inference_steps"),
        "guidance_scale": a.params.get("guidance_scale"), "width": a.params.get("width"),
        "height": a.params.get("height"),
        "votes_0": decisive_for.count(a.id), "votes_1": decisive_for.count(b.id),
        "votes_tie": choices.count(Choice.tie), "votes_both_bad": choices.count(Choice.both_bad),
        "votes_skip": choices.count(Choice.skip), "decision_ms": [v.decision_ms for v in votes if v.decision_ms],
        "user_ids": list(dict.fromkeys(users[v.labeler_id] for v in votes)),
    }  # fmt: skip
    if flt.latents:
        row["latents_0"], row["latents_1"] = files[2], files[3]
    return row


def vote_rows(flt: ExportFilter, counts: ExportCounts) -> Iterator[dict]:
    for batch, votes, images, names, users in _batches(flt):
        for c in batch:
            a, b = images[c.generation_a_id], images[c.generation_b_id]
            uid = {a.id: a.public_id, b.id: b.public_id}
            for v in votes[c.id]:
                if flt.since is not None and v.created_at < flt.since:
                    continue
                counts.votes += 1
                yield {"vote_id": v.vote_id, "comparison_id": c.id, "kind": c.kind.value, "caption": c.prompt,
                       "user_id": users[v.labeler_id], "choice": v.choice.value,
                       "chosen_image_uid": uid.get(v.winner_generation_id, ""),
                       "left_image_uid": uid[v.left_generation_id], "image_0_uid": a.public_id,
                       "image_1_uid": b.public_id, "model_0": names.get(a.checkpoint_id, ""),
                       "model_1": names.get(b.checkpoint_id, ""), "decision_ms": v.decision_ms,
                       "created_at": v.created_at, "guidelines_version": v.guidelines_version}  # fmt: skip


def _tables(rows: Iterator[dict], schema: pa.Schema, size: int) -> Iterator[pa.Table]:
    chunk: list[dict] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield pa.Table.from_pylist(chunk, schema=schema)
            chunk = []
    if chunk:
        yield pa.Table.from_pylist(chunk, schema=schema)


@dataclass
class ExportReport:
    directory: str
    filters: dict
    counts: ExportCounts
    files: list[str] = field(default_factory=list)


def write_export(settings: Settings, out_dir: Path, flt: ExportFilter, shard_rows: int = SHARD_ROWS) -> ExportReport:
    """pairs-00000.parquet, … (shards of `shard_rows`), votes.parquet, votes.csv and export.json."""
    out_dir.mkdir(parents=True, exist_ok=True)
    counts = ExportCounts()
    files = []
    for i, table in enumerate(_tables(pair_rows(settings, flt, counts), pair_schema(flt.latents), shard_rows)):
        files.append(f"pairs-{i:05d}.parquet")
        pq.write_table(table, out_dir / files[-1])
    if not files:  # an empty export is still a readable dataset
        files.append("pairs-00000.parquet")
        pq.write_table(pair_schema(flt.latents).empty_table(), out_dir / files[-1])
    with pq.ParquetWriter(out_dir / "votes.parquet", VOTE_SCHEMA) as parquet, \
            pa_csv.CSVWriter(out_dir / "votes.csv", VOTE_SCHEMA) as csv:  # fmt: skip
        for table in _tables(vote_rows(flt, counts), VOTE_SCHEMA, 5000):
            parquet.write_table(table)
            csv.write_table(table)
    files += ["votes.parquet", "votes.csv"]
    filters = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in asdict(flt).items()}
    report = ExportReport(str(out_dir), filters, counts, files)
    manifest = {"exported_at": datetime.now(UTC).isoformat(), "layout": "pick-a-pic-v2", **asdict(report)}
    (out_dir / "export.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return report


class _Chunks(io.RawIOBase):
    """A write-only file whose bytes are taken out as they are written (a streamed response)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        out, self.parts = b"".join(self.parts), []
        return out


def stream(settings: Settings, flt: ExportFilter, form: str = "pairs", fmt: str = "parquet") -> Iterator[bytes]:
    """One parquet (or, for votes, CSV) file, a row group at a time: memory stays at one batch."""
    counts = ExportCounts()
    rows, schema = ((pair_rows(settings, flt, counts), pair_schema(flt.latents)) if form == "pairs"
                    else (vote_rows(flt, counts), VOTE_SCHEMA))  # fmt: skip
    sink = _Chunks()
    writer = pa_csv.CSVWriter(sink, schema) if fmt == "csv" else pq.ParquetWriter(sink, schema)
    for table in _tables(rows, schema, 200 if form == "pairs" else 5000):
        writer.write_table(table)
        yield sink.take()
    writer.close()
    yield sink.take()
