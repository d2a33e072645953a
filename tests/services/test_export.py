"""Export on SQLite: Pick-a-Pic v2 rows that datasets, pandas and pyarrow read as they are; majority
labels, ties on request, filters, and the same rows in the same order every time."""

import io
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from core.db.models import Comparison, Labeler
from core.db.session import session_scope
from core.services.export import ExportFilter, write_export
from core.settings import get_settings
from core.states import Choice, ComparisonKind, GenerationPurpose
from tests.conftest import apply_settings
from tests.helpers.data import make_comparisons, make_labeler
from tests.services.test_labeler_stats import vote


@pytest.fixture
def voted(sqlite_db, monkeypatch):
    """Four pairs: 2–1 for A; one tie; only skips; one vote for B by a labeler later disabled."""
    apply_settings(monkeypatch, votes_per_comparison=3)
    majority, tie, skipped, disabled = make_comparisons(4)
    alice, bob, carol, dave = (make_labeler(name)[0] for name in ("alice", "bob", "carol", "dave"))
    vote(majority, alice, True, 900)
    vote(majority, bob, True, 1200)
    vote(majority, carol, False, 400)
    vote(tie, alice, None, 700, Choice.tie)
    vote(skipped, bob, None, 300, Choice.skip)
    vote(disabled, dave, False, 500)
    with session_scope() as session:
        session.get(Labeler, dave).active = False
    return {"majority": majority, "tie": tie, "skipped": skipped, "disabled": disabled}


def pairs(out) -> list[dict]:
    return pq.read_table(sorted(out.glob("pairs-*.parquet"))).to_pylist()


def test_pairs_in_the_pick_a_pic_layout_with_majority_labels(voted, sqlite_db, tmp_path):
    report = write_export(sqlite_db, tmp_path / "out", ExportFilter())
    rows = pairs(tmp_path / "out")
    assert [r["comparison_id"] for r in rows] == [voted["majority"], voted["disabled"]]
    first = rows[0]
    assert (first["label_0"], first["label_1"], first["best_image_uid"]) == (1.0, 0.0, first["image_0_uid"])
    assert (first["votes_0"], first["votes_1"], first["has_label"], first["are_different"]) == (2, 1, True, True)
    assert first["model_0"] == first["model_1"] == "base" and first["kind"] == "train"
    assert len(first["user_ids"]) == 3 and first["user_id"] == first["user_ids"][0]
    assert all(u.startswith("u") and "alice" not in u for u in first["user_ids"])  # pseudonyms, not names
    assert sorted(first["decision_ms"]) == [400, 900, 1200]
    stored = (sqlite_db.media_dir / f"{first['image_0_uid']}.png").read_bytes()
    assert first["jpg_0"] == stored  # the very bytes served to labelers
    assert (report.counts.pairs, report.counts.undecided, report.counts.votes) == (2, 2, 6)

    votes = pq.read_table(tmp_path / "out" / "votes.parquet").to_pylist()
    # Each labeler's own left/right as cast (which side showed A is keyed by the install's random secret,
    # so the four decisive votes may all be "left" or all "right"), next to the tie and the pass.
    choices = [v["choice"] for v in votes]
    assert len(votes) == 6 and sorted(c for c in choices if c not in ("left", "right")) == ["skip", "tie"]
    csv_lines = (tmp_path / "out" / "votes.csv").read_text().splitlines()
    assert len(csv_lines) == 7 and csv_lines[0].startswith('"vote_id","comparison_id"')


def test_ties_disabled_labelers_since_and_latents_are_options(voted, sqlite_db, tmp_path):
    with_ties = pairs_of(sqlite_db, tmp_path / "ties", ExportFilter(include_ties=True))
    tie = next(r for r in with_ties if r["comparison_id"] == voted["tie"])
    assert (tie["label_0"], tie["label_1"], tie["best_image_uid"], tie["votes_tie"]) == (0.5, 0.5, "", 1)
    assert voted["disabled"] not in ids(pairs_of(sqlite_db, tmp_path / "enabled", ExportFilter(exclude_disabled=True)))
    assert pairs_of(sqlite_db, tmp_path / "later", ExportFilter(since=datetime.now(UTC) + timedelta(minutes=1))) == []
    with_latents = pairs_of(sqlite_db, tmp_path / "latents", ExportFilter(latents=True))
    assert np.load(io.BytesIO(with_latents[0]["latents_0"])).shape == (4, 16, 16)


def test_the_same_export_twice_gives_the_same_rows_in_the_same_order(voted, sqlite_db, tmp_path):
    write_export(sqlite_db, tmp_path / "one", ExportFilter(kind="all", include_ties=True))
    write_export(sqlite_db, tmp_path / "two", ExportFilter(kind="all", include_ties=True))
    assert pairs(tmp_path / "one") == pairs(tmp_path / "two")
    assert (tmp_path / "one" / "votes.csv").read_bytes() == (tmp_path / "two" / "votes.csv").read_bytes()


def test_datasets_and_pandas_open_the_export(voted, sqlite_db, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import datasets
    import pandas as pd

    write_export(sqlite_db, tmp_path / "out", ExportFilter())
    files = [str(p) for p in sorted((tmp_path / "out").glob("pairs-*.parquet"))]
    loaded = datasets.load_dataset("parquet", data_files=files, split="train")
    assert loaded.num_rows == 2 and loaded[0]["caption"] and loaded[0]["label_0"] == 1.0
    assert Image.open(io.BytesIO(loaded[0]["jpg_0"])).convert("RGB").size[0] > 0
    assert len(pd.read_parquet(files[0])) == 2 and len(pd.read_csv(tmp_path / "out" / "votes.csv")) == 6


def pairs_of(settings, out, flt) -> list[dict]:
    write_export(settings, out, flt)
    return pairs(out)


def ids(rows) -> list[int]:
    return [r["comparison_id"] for r in rows]


@pytest.fixture(params=["sqlite", "postgres"])
def any_db(request):
    return request.getfixturevalue("sqlite_db" if request.param == "sqlite" else "pg_settings")


def test_evaluation_rows_export_no_seed(any_db, tmp_path):
    """An evaluation's seeds would let whoever holds an export render its images ahead of the labelers:
    eval and match rows leave them out; train rows keep theirs."""
    train, evaluation, match = make_comparisons(3)
    with session_scope() as session:
        for comparison_id, kind in ((evaluation, ComparisonKind.eval), (match, ComparisonKind.match)):
            comparison = session.get(Comparison, comparison_id)
            comparison.kind = kind
            comparison.generation_a.purpose = comparison.generation_b.purpose = GenerationPurpose.eval
    alice = make_labeler("alice")[0]
    for comparison_id in (train, evaluation, match):
        vote(comparison_id, alice, True, 800)
    rows = {r["kind"]: r for r in pairs_of(get_settings(), tmp_path / "all", ExportFilter(kind="all"))}
    assert set(rows) == {"train", "eval", "match"}
    assert [(rows[k]["seed_0"], rows[k]["seed_1"]) for k in ("eval", "match")] == [(None, None), (None, None)]
    assert rows["train"]["seed_0"] is not None and rows["train"]["seed_1"] is not None
    evaluations = pairs_of(get_settings(), tmp_path / "eval", ExportFilter(kind="eval"))
    assert ids(evaluations) == [evaluation, match] and all(r["seed_0"] is None for r in evaluations)
