"""GET /admin/export on Postgres: the file streamed opens with datasets, and the winner's image in it
is the image the API served to the labeler who chose it."""

import io
import json

import numpy as np
import pyarrow.csv as pa_csv
from PIL import Image

from tests.api.conftest import auth
from tests.helpers.data import make_comparisons, pair_of


def test_the_export_holds_the_images_labelers_were_served(client, admin, alice, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import datasets

    make_comparisons(2)
    served = client.get("/api/v1/comparisons/next", headers=auth(alice)).json()
    shown = np.asarray(Image.open(io.BytesIO(client.get(served["left"]["url"]).content)).convert("RGB"))
    vote = client.post(f"/api/v1/comparisons/{served['id']}/vote", headers=auth(alice), json={"choice": "left"})
    assert vote.status_code in (200, 201), vote.text

    response = client.get("/api/v1/admin/export", headers=admin)
    assert response.status_code == 200 and response.headers["content-type"] == "application/vnd.apache.parquet"
    (tmp_path / "pairs.parquet").write_bytes(response.content)
    rows = datasets.load_dataset("parquet", data_files=str(tmp_path / "pairs.parquet"), split="train")
    assert rows.num_rows == 1 and rows[0]["caption"] == served["prompt"]
    assert rows[0]["comparison_id"] == pair_of(served["id"])  # admins' exports keep row ids
    row = rows[0]
    winner = row["jpg_0"] if row["best_image_uid"] == row["image_0_uid"] else row["jpg_1"]
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(winner)).convert("RGB")), shown)

    votes = client.get("/api/v1/admin/export", headers=admin, params={"form": "votes", "format": "csv"})
    assert votes.headers["content-type"].startswith("text/csv")
    table = pa_csv.read_csv(io.BytesIO(votes.content))
    assert table.num_rows == 1 and table.column("choice").to_pylist() == ["left"]


def test_export_refusals(client, admin, alice):
    csv_pairs = client.get("/api/v1/admin/export", headers=admin, params={"format": "csv"})
    assert csv_pairs.status_code == 422 and "parquet" in csv_pairs.text
    assert client.get("/api/v1/admin/export", headers=admin, params={"kind": "everything"}).status_code == 422
    assert client.get("/api/v1/admin/export", headers=admin, params={"since": "yesterday"}).status_code == 422
    assert client.get("/api/v1/admin/export", headers=auth(alice)).status_code == 403
    empty = client.get("/api/v1/admin/export", headers=admin)  # nothing voted yet: a valid, empty file
    assert empty.status_code == 200 and empty.content[:4] == b"PAR1"


def test_imports_over_rest(client, admin, alice, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from core.settings import get_settings

    root = (get_settings().data_dir / "imports").resolve()  # the default import root
    root.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist([{"caption": "a red circle", "jpg_0": b"x", "jpg_1": b"y", "label_0": 1.0,
                                          "label_1": 0.0}]), root / "one.parquet")  # fmt: skip
    queued = client.post("/api/v1/admin/imports", headers=admin, json={"path": "one.parquet", "name": "one"})
    assert queued.status_code == 202, queued.text
    body = queued.json()
    assert (body["name"], body["format"], body["state"], body["rows_done"]) == ("one", "parquet", "queued", 0)
    assert body["attempts"] == 0
    assert [s["name"] for s in client.get("/api/v1/admin/imports", headers=admin).json()] == ["one"]
    assert client.get("/api/v1/admin/imports/one", headers=admin).json()["source"] == str(root / "one.parquet")
    assert client.get("/api/v1/admin/imports/nope", headers=admin).status_code == 404
    taken = client.post("/api/v1/admin/imports", headers=admin, json={"path": str(root / "one.parquet"),
                                                                       "name": "one"})  # fmt: skip
    assert taken.status_code == 422 and "exists" in taken.text
    missing = client.post("/api/v1/admin/imports", headers=admin, json={"path": "absent"})
    assert missing.status_code == 422 and "does not exist" in missing.text
    bad_name = client.post("/api/v1/admin/imports", headers=admin, json={"path": str(root), "name": "bad name!"})
    assert bad_name.status_code == 422
    assert client.get("/api/v1/admin/imports", headers=auth(alice)).status_code == 403
    assert body["campaign_id"] == 1  # default's rounds train on it unless another campaign is named
    for campaign, why in (("nope", "no campaign is named 'nope'"), ("Bad", "pattern")):
        refused = client.post("/api/v1/admin/imports", headers=admin,
                              json={"path": "one.parquet", "name": f"x-{campaign}", "campaign": campaign})  # fmt: skip
        assert refused.status_code == 422 and why in refused.text, refused.text
        assert refused.json()["detail"][0]["loc"][-1] == "campaign"

    # Outside the root, a file that exists and one that does not are refused alike.
    pq.write_table(pa.Table.from_pylist([{"caption": "x"}]), tmp_path / "outside.parquet")
    answers = []
    for path in (tmp_path / "outside.parquet", tmp_path / "absent.parquet", "../../outside.parquet"):
        refused = client.post("/api/v1/admin/imports", headers=admin, json={"path": str(path)})
        answers.append((refused.status_code, refused.text.replace(json.dumps(str(path))[1:-1], "PATH")))
    assert answers[0][0] == 422 and "not under the import root" in answers[0][1]
    assert answers[0] == answers[1] == answers[2], answers
