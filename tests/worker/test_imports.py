"""Import, in-process on the shipped model: a dpoloop export re-imported into a fresh install trains
a round on exactly the same pairs (SQLite and Postgres); Pick-a-Pic parquet, `datasets` folders and
folders of pairs are read, encoded to latents, deduplicated; bad rows are reported, never fatal; an
interrupted import resumes where it stopped."""

import hashlib
import io
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core.db.session import session_scope
from core.preferences import Preferences
from core.queue import IMPORT_SET, sending_to
from core.repo.preferences import add_imported, collect_preferences
from core.services import imports
from core.services.export import ExportFilter, write_export
from core.services.rounds import InvalidRoundConfig
from core.settings import get_settings
from tests.conftest import apply_settings
from tests.helpers.rounds import QUICK, labeled_pool, round_row, start
from worker.scenes.render import render_scene
from worker.scenes.world import caption_for, sample_scene


@pytest.fixture(autouse=True)
def import_root(monkeypatch, tmp_path):
    """These tests write their sources in tmp_path: the import root."""
    apply_settings(monkeypatch, import_root=tmp_path)
    return tmp_path


def run(path, name: str) -> str:
    """`dpoloop import`, with the task it queues run here."""
    from worker.imports.run import run_import

    sent = []
    with sending_to(lambda task, args: sent.append((task, args))):
        row = imports.start_import(path, name)
    assert sent == [(IMPORT_SET, [row.id])]
    run_import(row.id, get_settings())
    return name


def fingerprint(latents_dir, pairs) -> list[tuple]:
    """What a round trains on, comparable across installs: prompt and both latents' bytes."""
    digest = lambda rel: hashlib.sha256(np.load(latents_dir / rel).tobytes()).hexdigest()  # noqa: E731
    return sorted((p.prompt, digest(p.winner_latents), digest(p.loser_latents)) for p in pairs)


@pytest.fixture(params=["sqlite", "postgres"])
def second_install(request, tmp_path, monkeypatch):
    """Switches this process to a fresh install B: an empty database (SQLite or Postgres) and data dir."""

    def switch():
        from core.db.migrate import upgrade

        url = (f"sqlite:///{tmp_path / 'b.sqlite3'}" if request.param == "sqlite"
               else request.getfixturevalue("postgres_url"))  # fmt: skip
        apply_settings(monkeypatch, database_url=url, data_dir=tmp_path / "b")
        upgrade()
        get_settings().ensure_dirs()

    return switch


def test_votes_exported_from_one_install_train_a_round_on_another(loop_db, second_install, tmp_path):
    from worker.rounds.run import run_round

    labeled_pool(8)
    settings_a = get_settings()
    with session_scope() as session:
        pairs_a = collect_preferences(session).pairs
    assert len(pairs_a) >= 4
    expected = fingerprint(settings_a.latents_dir, pairs_a)
    write_export(settings_a, tmp_path / "export", ExportFilter(latents=True))

    second_install()
    run(tmp_path / "export", "from-a")
    found = imports.get_set("from-a")
    assert found.state == "done" and found.counts["added"] == len(pairs_a) and found.rows_total == len(pairs_a)
    with session_scope() as session:
        imported = Preferences()
        add_imported(session, imported, "import:from-a")
    assert fingerprint(get_settings().latents_dir, imported.pairs) == expected  # same pairs, same winners

    round_id = start({**QUICK, "sources": ["import:from-a"]})
    run_round(round_id)
    row = round_row(round_id)
    assert row.state == "succeeded", row.error
    assert row.counts["train_pairs"] + row.counts["held_out_pairs"] == len(pairs_a)
    assert row.counts["pairs_import:from-a"] == len(pairs_a) and row.counts.get("votes", 0) == 0


def scene_png(seed: int) -> tuple[str, bytes]:
    import random

    scene = sample_scene(random.Random(seed))
    buffer = io.BytesIO()
    render_scene(scene).save(buffer, format="PNG")
    return caption_for(scene, with_size=False), buffer.getvalue()


def pick_a_pic_rows(count: int, first_seed: int = 0) -> list[dict]:
    rows = []
    for i in range(count):
        caption, left = scene_png(first_seed + 2 * i)
        _, right = scene_png(first_seed + 2 * i + 1)
        rows.append(
            {"caption": caption, "jpg_0": left, "jpg_1": right, "label_0": float(i % 2), "label_1": float(1 - i % 2)}
        )
    return rows


def test_a_pick_a_pic_file_is_encoded_counted_and_deduplicated(loop_db, tmp_path):
    rows = pick_a_pic_rows(6)
    rows += [
        {**rows[0], "label_0": 0.5, "label_1": 0.5, "caption": "a tie"},  # counted, not trained on
        {**rows[1], "label_0": 0.0, "label_1": 0.0, "caption": "no label"},  # unlabeled
        {**rows[2], "label_0": None, "label_1": None, "caption": "missing"},  # bad: missing label
        {**rows[3], "caption": "  "},  # bad: empty caption
        {**rows[4], "jpg_1": b"not an image", "caption": "broken"},  # bad: undecodable
        dict(rows[5]),  # the same pair again in the same file
    ]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "picks.parquet")
    run(tmp_path / "picks.parquet", "picks")
    found = imports.get_set("picks")
    assert found.state == "done" and found.rows_total == 12
    assert {k: found.counts.get(k, 0) for k in ("added", "ties", "unlabeled", "bad", "duplicates")} == {
        "added": 6, "ties": 1, "unlabeled": 1, "bad": 3, "duplicates": 1}  # fmt: skip
    reasons = {bad["row"]: bad["reason"] for bad in found.bad_rows}
    assert reasons[8] == "missing label" and reasons[9] == "empty caption" and "cannot identify" in reasons[10]
    with session_scope() as session:
        pairs = Preferences()
        add_imported(session, pairs, "import:picks")
    winner = np.load(get_settings().latents_dir / pairs.pairs[0].winner_latents)
    assert winner.shape == (4, 16, 16) and np.isfinite(winner).all()

    # The same file under another name adds nothing.
    run(tmp_path / "picks.parquet", "picks-again")
    again = imports.get_set("picks-again")
    assert again.counts.get("added", 0) == 0 and again.counts["duplicates"] == 7


def test_datasets_folders_and_folders_of_pairs(loop_db, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf"))
    import datasets

    datasets.Dataset.from_list(pick_a_pic_rows(3, first_seed=100)).save_to_disk(str(tmp_path / "saved"))
    run(tmp_path / "saved", "saved")
    assert imports.get_set("saved").counts["added"] == 3

    folder = tmp_path / "pairs"
    folder.mkdir()
    lines = []
    for i, choice in enumerate([0, 1, "tie"]):
        caption, left = scene_png(200 + 2 * i)
        (folder / f"p{i}_0.png").write_bytes(left)
        (folder / f"p{i}_1.png").write_bytes(scene_png(201 + 2 * i)[1])
        lines.append(json.dumps({"name": f"p{i}", "caption": caption, "choice": choice}))
    lines.append(json.dumps({"name": "absent", "caption": "a red circle", "choice": 0}))  # no image files
    (folder / "labels.jsonl").write_text("\n".join(lines) + "\n")
    run(folder, "folder")
    found = imports.get_set("folder")
    assert (found.counts["added"], found.counts["ties"], found.counts["bad"]) == (2, 1, 1)
    assert found.bad_rows == [{"row": 3, "reason": "image 0 missing"}]


def test_an_interrupted_import_resumes_where_it_stopped(loop_db, tmp_path, monkeypatch):
    from worker.imports import run as run_module
    from worker.imports.encode import LatentEncoder

    pq.write_table(pa.Table.from_pylist(pick_a_pic_rows(5, first_seed=300)), tmp_path / "five.parquet")
    monkeypatch.setattr(run_module, "BATCH", 2)
    real_encode, calls = LatentEncoder.encode, []

    def encode_then_fail(self, images):
        calls.append(len(images))
        if len(calls) == 2:
            raise MemoryError("the worker ran out of memory")
        return real_encode(self, images)

    monkeypatch.setattr(LatentEncoder, "encode", encode_then_fail)
    run(tmp_path / "five.parquet", "five")
    stopped = imports.get_set("five")
    assert (stopped.state, stopped.rows_done, stopped.counts["added"]) == ("failed", 2, 2)
    assert "out of memory" in stopped.error

    sent = []
    with sending_to(lambda task, args: sent.append(args)):
        imports.resume_import("five")
    run_module.run_import(sent[0][0], get_settings())
    done = imports.get_set("five")
    assert (done.state, done.rows_done, done.counts["added"], done.counts.get("duplicates", 0)) == ("done", 5, 5, 0)


def test_a_round_refuses_sources_it_cannot_use(loop_db, tmp_path):
    for sources, problem in ((["import:nowhere"], "no preference set named 'nowhere'"), (["elsewhere"], "votes"),
                             (["votes", "votes"], "twice"), ([], "at least 1")):  # fmt: skip
        with pytest.raises(InvalidRoundConfig, match=problem):
            start({**QUICK, "sources": sources})
    pq.write_table(pa.Table.from_pylist(pick_a_pic_rows(1)), tmp_path / "one.parquet")
    with sending_to(lambda task, args: None):
        imports.start_import(tmp_path / "one.parquet", "queued")  # not read yet
    with pytest.raises(InvalidRoundConfig, match="'queued' is queued"):
        start({**QUICK, "sources": ["import:queued"]})
    with pytest.raises(imports.ImportRefused, match="exists"):
        imports.start_import(tmp_path / "one.parquet", "queued")
    (tmp_path / "empty").mkdir()
    with pytest.raises(imports.ImportRefused, match="no .parquet"):
        imports.start_import(tmp_path / "empty", "nothing-here")


def test_imports_from_the_object_store_when_files_live_there(loop_db, bucket, tmp_path, monkeypatch):
    import datasets

    from core.storage import storage

    apply_settings(monkeypatch, storage_url=f"s3://{bucket}/install")
    store = storage(get_settings())
    datasets.Dataset.from_list(pick_a_pic_rows(3, first_seed=500)).save_to_disk(str(tmp_path / "saved"))
    for file in (tmp_path / "saved").rglob("*"):  # the admin's upload (aws s3 cp --recursive, say)
        if file.is_file():
            name = file.relative_to(tmp_path / "saved").as_posix()
            store.write_bytes(f"imports/team/saved/{name}", file.read_bytes())
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(pick_a_pic_rows(2, first_seed=600)), buffer)
    store.write_bytes("imports/picks.parquet", buffer.getvalue())

    run(type(tmp_path)("team/saved"), "saved")
    run(type(tmp_path)("picks.parquet"), "picks")
    for name, added in (("saved", 3), ("picks", 2)):
        found = imports.get_set(name)
        assert (found.state, found.format, found.counts.get("added")) == ("done", "datasets" if name == "saved"
                                                                         else "parquet", added), found  # fmt: skip
    assert imports.get_set("saved").source == "imports/team/saved"
    with session_scope() as session:
        pairs = Preferences()
        add_imported(session, pairs, "import:picks")
    assert store.exists(f"latents/{pairs.pairs[0].winner_latents}")  # encoded latents went to the store too
    for path, why in (("/abs/picks.parquet", "not a path under the object store"), ("../x", "not a path under"),
                      ("", "not a path under"), ("nothing-here", "does not exist")):  # fmt: skip
        with pytest.raises(imports.ImportRefused, match=why):
            imports.start_import(type(tmp_path)(path), f"refused-{len(path)}")
