"""Guidelines over REST: read by any labeler, set by admins (a new version each time, bad input a clear
422), and each vote naming the version it was cast under, which the export carries; the rich-text parser
turns an admin's text into blocks and never into HTML."""

import io

import pyarrow.parquet as pq
from sqlalchemy import select

from core.db.models import Vote
from core.db.session import session_scope
from core.guidelines import blocks
from tests.api.conftest import auth
from tests.helpers.data import make_comparisons

BODY = """Judge the **whole image**, not one detail.

- hands and faces first
- text must be spelled right: see [the style guide](https://example.com/guide)

<script>alert(1)</script> and [a trap](javascript:alert(1)) stay text."""


def test_the_rich_text_becomes_blocks_and_never_html():
    parsed = blocks(BODY)
    assert parsed[0] == {"type": "p", "spans": [{"text": "Judge the "}, {"text": "whole image", "bold": True},
                                                {"text": ", not one detail."}]}  # fmt: skip
    assert parsed[1]["type"] == "ul" and len(parsed[1]["items"]) == 2
    assert parsed[1]["items"][1][-1] == {"text": "the style guide", "href": "https://example.com/guide"}
    assert parsed[2] == {"type": "p", "spans": [{"text": "<script>alert(1)</script> and [a trap](javascript:alert(1))"
                                                         " stay text."}]}  # fmt: skip
    assert blocks("") == [] and blocks("\n\n  \n") == []


def test_admins_set_versions_labelers_read_them_and_votes_name_them(client, admin, alice):
    first = client.get("/api/v1/guidelines", headers=auth(alice)).json()
    assert (first["version"], first["blocks"]) == (0, []) and "prompt" in first["question"]
    assert client.put("/api/v1/admin/guidelines", headers=auth(alice), json={"question": "x"}).status_code == 403
    for bad in ({"question": ""}, {"question": "   "}, {"question": "q" * 301}, {"question": "ok", "body": "b" * 5001},
                {"question": "ok", "extra": 1}, {"body": "no question"}):  # fmt: skip
        refused = client.put("/api/v1/admin/guidelines", headers=auth(admin), json=bad)
        assert refused.status_code == 422, (bad, refused.text)
    faithful = {"question": "Which image is more faithful to the prompt?", "body": BODY}
    saved = client.put("/api/v1/admin/guidelines", headers=auth(admin), json=faithful).json()
    assert saved["version"] == 1 and saved["set_by"] == "root" and saved["blocks"] == blocks(BODY)
    again = client.put("/api/v1/admin/guidelines", headers=auth(admin), json={"question": "Which is better?"}).json()
    assert again["version"] == 2 and again["blocks"] == []
    assert client.get("/api/v1/guidelines", headers=auth(alice)).json()["question"] == "Which is better?"

    make_comparisons(3)
    handle = client.get("/api/v1/comparisons/next", headers=auth(alice)).json()["id"]
    unknown = client.post(f"/api/v1/comparisons/{handle}/vote", headers=auth(alice),
                          json={"choice": "left", "guidelines_version": 3})  # fmt: skip
    assert unknown.status_code == 422 and "version 3 does not exist" in unknown.text
    for version in (1, 2, None):
        handle = client.get("/api/v1/comparisons/next", headers=auth(alice)).json()["id"]
        vote = client.post(f"/api/v1/comparisons/{handle}/vote", headers=auth(alice),
                           json={"choice": "left", "guidelines_version": version})  # fmt: skip
        assert vote.status_code == 201, vote.text
    with session_scope() as session:
        assert sorted(session.scalars(select(Vote.guidelines_version)), key=str) == [1, 2, None]

    exported = client.get("/api/v1/admin/export?form=votes&format=parquet", headers=auth(admin))
    assert exported.status_code == 200, exported.text
    table = pq.read_table(io.BytesIO(exported.content))
    assert sorted(table.column("guidelines_version").to_pylist(), key=str) == [1, 2, None]
