"""Imports of hostile or oversized rows, in-process on the shipped model: image bombs and latents whose
header claims a huge array are bad rows, never a failed import; rows cannot make the worker read a
file outside the import root or fetch a URL; images are decoded a few pairs at a time; and nothing of
the source is copied into the data dir."""

import http.server
import io
import json
import os
import threading

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from core.queue import sending_to
from core.services import imports
from core.settings import get_settings
from tests.conftest import apply_settings
from tests.worker.test_imports import pick_a_pic_rows, run, scene_png


@pytest.fixture(autouse=True)
def root(monkeypatch, tmp_path):
    """The import root, beside (not above) what these tests keep outside it."""
    (tmp_path / "root").mkdir()
    apply_settings(monkeypatch, import_root=tmp_path / "root")
    return tmp_path / "root"


def png_of(width: int, height: int) -> bytes:
    """A real PNG of that size, a few KB: one bit per pixel, all black (decoded as RGB: 3 bytes a pixel)."""
    buffer = io.BytesIO()
    Image.new("1", (width, height)).save(buffer, format="PNG")
    return buffer.getvalue()


def npy_claiming(shape: tuple[int, ...]) -> bytes:
    """A .npy header for a float32 array of `shape`, and no data after it."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "<f4", "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def reasons_of(name: str) -> dict[int, str]:
    return {bad["row"]: bad["reason"] for bad in imports.get_set(name).bad_rows}


def test_image_bombs_and_crafted_latents_are_bad_rows(loop_db, root):
    rows = [{**row, "latents_0": None, "latents_1": None} for row in pick_a_pic_rows(2)]
    rows += [
        {**rows[0], "caption": "89 MP, below Pillow's warning", "jpg_1": png_of(9400, 9400)},
        {**rows[0], "caption": "210 MP: Pillow's DecompressionBombError", "jpg_0": png_of(15000, 14000)},
        {**rows[1], "caption": "latents claiming 364 TiB", "latents_0": npy_claiming((10**7, 10**7)),
         "latents_1": npy_claiming((10**7, 10**7))},
    ]  # fmt: skip
    pq.write_table(pa.Table.from_pylist(rows), root / "bombs.parquet")
    run(root / "bombs.parquet", "bombs")
    found = imports.get_set("bombs")
    assert found.state == "done", found.error
    assert (found.counts["added"], found.counts["bad"], found.rows_total) == (2, 3, 5)
    reasons = reasons_of("bombs")
    assert "9400×9400 pixels, more than the 16,777,216" in reasons[2]
    assert "DecompressionBomb" in reasons[3] or "15000×14000 pixels" in reasons[3]
    assert "claims (10000000, 10000000)" in reasons[4]


class Requests(http.server.SimpleHTTPRequestHandler):
    seen: list[str] = []

    def do_GET(self):  # noqa: N802 - http.server's name
        self.seen.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(scene_png(7)[1])

    def log_message(self, *args):
        pass


def test_rows_cannot_name_files_outside_the_root_or_urls(loop_db, root, tmp_path):
    import datasets

    outside = tmp_path / "outside"
    outside.mkdir()
    caption, png = scene_png(1)
    (outside / "p_0.png").write_bytes(png)
    (outside / "p_1.png").write_bytes(scene_png(2)[1])
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Requests)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/image.png"
    try:
        # A parquet file whose images are `datasets` Image features: bytes, or a path or URL instead.
        features = datasets.Features({"caption": datasets.Value("string"), "jpg_0": datasets.Image(),
                                      "jpg_1": datasets.Image(), "label_0": datasets.Value("float64"),
                                      "label_1": datasets.Value("float64")})  # fmt: skip
        given, labels = {"bytes": scene_png(3)[1], "path": None}, {"label_0": 1.0, "label_1": 0.0}
        rows = [
            {"caption": caption, "jpg_0": given, "jpg_1": {"bytes": png, "path": None}, **labels},
            {"caption": "by URL", "jpg_0": given, "jpg_1": {"bytes": None, "path": url}, **labels},
            {"caption": "by path", "jpg_0": {"bytes": None, "path": str(outside / "p_0.png")}, "jpg_1": given,
             **labels},
        ]  # fmt: skip
        pq.write_table(pa.Table.from_pylist(rows, schema=features.arrow_schema), root / "features.parquet")
        run(root / "features.parquet", "features")
    finally:
        server.shutdown()
    assert Requests.seen == []  # nothing fetched
    assert imports.get_set("features").counts["added"] == 1
    reasons = reasons_of("features")
    assert "path or URL" in reasons[1] and "path or URL" in reasons[2]

    # A folder of pairs: names that climb out of it, and a link out of the root.
    folder = root / "pairs"
    folder.mkdir()
    (folder / "good_0.png").write_bytes(scene_png(4)[1])
    (folder / "good_1.png").write_bytes(scene_png(5)[1])
    os.symlink(outside / "p_0.png", folder / "linked_0.png")
    (folder / "linked_1.png").write_bytes(scene_png(6)[1])
    lines = [{"name": "good", "caption": "a good pair", "choice": 0},
             {"name": "../../outside/p", "caption": "climbs out", "choice": 1},
             {"name": "linked", "caption": "a link out", "choice": 0}]  # fmt: skip
    (folder / "labels.jsonl").write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    run(folder, "folder")
    assert imports.get_set("folder").counts["added"] == 1
    reasons = reasons_of("folder")
    assert "'..'" in reasons[1] and "leads out of the import root" in reasons[2]


def test_images_are_decoded_a_few_pairs_at_a_time_and_nothing_is_copied(loop_db, root, monkeypatch):
    from worker.imports.encode import LatentEncoder

    real_encode, calls = LatentEncoder.encode, []

    def counted(self, images):
        calls.append(len(images))
        return real_encode(self, images)

    monkeypatch.setattr(LatentEncoder, "encode", counted)
    pq.write_table(pa.Table.from_pylist(pick_a_pic_rows(10, first_seed=500)), root / "ten.parquet")
    run(root / "ten.parquet", "ten")
    assert imports.get_set("ten").counts["added"] == 10
    assert calls == [8, 8, 4]  # one batch of rows, encoded four pairs at a time
    data_dir = get_settings().data_dir
    assert not (data_dir / "hf-cache").exists()
    assert [path for path in data_dir.rglob("*") if path.suffix == ".arrow"] == []


def test_a_source_no_longer_under_the_root_is_not_read(loop_db, root, tmp_path, monkeypatch):
    """The worker checks again: a set queued before the root moved (or by an older install) fails, saying why."""
    from worker.imports.run import run_import

    pq.write_table(pa.Table.from_pylist(pick_a_pic_rows(1)), root / "one.parquet")
    with sending_to(lambda task, args: None):
        row = imports.start_import(root / "one.parquet", "moved")
    (tmp_path / "elsewhere").mkdir()
    apply_settings(monkeypatch, import_root=tmp_path / "elsewhere")
    run_import(row.id, get_settings())
    found = imports.get_set("moved")
    assert found.state == "failed" and "not under the import root" in found.error and found.rows_done == 0


def test_a_datasets_folder_cannot_point_its_split_list_outside_the_root(loop_db, root, tmp_path):
    """A `save_to_disk` folder whose dataset_dict.json links out of the root: the worker does not read it."""
    from worker.imports.run import run_import

    (tmp_path / "outside.json").write_text(json.dumps({"splits": ["train"]}))
    (root / "saved").mkdir()
    os.symlink(tmp_path / "outside.json", root / "saved" / "dataset_dict.json")
    with sending_to(lambda task, args: None):
        row = imports.start_import(root / "saved", "linked")
    run_import(row.id, get_settings())
    found = imports.get_set("linked")
    assert found.state == "failed" and found.rows_done == 0
    assert "dataset_dict.json is not a file under the import root" in found.error, found.error
