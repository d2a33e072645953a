"""Campaigns over REST: admins create, list, assign and archive; a labeler reads their campaigns and the
guidelines of those they take part in; bad names, shares and unknown campaigns or labelers get a clear 4xx."""

from core.db.session import session_scope
from core.services import campaigns
from tests.api.conftest import auth
from tests.helpers.data import make_comparisons


def test_admins_run_campaigns_and_labelers_see_theirs(client, admin, alice, bob):
    api = "/api/v1/admin/campaigns"
    assert client.get(api, headers=auth(alice)).status_code == 403
    assert [c["name"] for c in client.get(api, headers=auth(admin)).json()] == ["default"]
    made = client.post(api, headers=auth(admin), json={"name": "hands", "description": "Which hands look right?"})
    assert made.status_code == 201, made.text
    assert made.json() | {"created_at": None} == {"id": 2, "name": "hands", "description": "Which hands look right?",
                                                  "open_to_all": False, "labelers": 0, "created_by": "root",
                                                  "created_at": None, "archived_at": None, "prompts": 0,
                                                  "ready_pairs": 0, "votes": 0, "blend_weight": 0.0,
                                                  "round_defaults": {}}  # fmt: skip
    taken = client.post(api, headers=auth(admin), json={"name": "hands"})
    assert taken.status_code == 409 and "exists" in taken.json()["detail"]

    put = client.put(f"{api}/hands/labelers/{alice['id']}", headers=auth(admin), json={"share": 0.4})
    assert put.status_code == 200 and put.json()["share"] == 0.4 and put.json()["name"] == "alice"
    assert [m["name"] for m in client.get(f"{api}/hands/labelers", headers=auth(admin)).json()] == ["alice"]
    assert client.get(f"{api}/hands", headers=auth(admin)).json()["labelers"] == 1
    mine = client.get("/api/v1/me/campaigns", headers=auth(alice)).json()
    assert mine == [{"name": "default", "share": 1.0}, {"name": "hands", "share": 0.4}]
    assert client.get("/api/v1/me/campaigns", headers=auth(bob)).json() == [{"name": "default", "share": 1.0}]

    saved = client.put("/api/v1/admin/guidelines?campaign=hands", headers=auth(admin),
                       json={"question": "Which hands look right?"})  # fmt: skip
    assert saved.status_code == 200 and saved.json()["version"] == 1
    assert client.get("/api/v1/guidelines?campaign=hands", headers=auth(alice)).json()["question"] == (
        "Which hands look right?")
    assert client.get("/api/v1/guidelines", headers=auth(alice)).json()["version"] == 0  # default's: none yet
    assert client.get("/api/v1/guidelines?campaign=hands", headers=auth(admin)).json()["version"] == 1  # admins: any
    outsider = client.get("/api/v1/guidelines?campaign=hands", headers=auth(bob))
    assert outsider.status_code == 403 and "not a labeler of campaign 'hands'" in outsider.json()["detail"]

    assert client.delete(f"{api}/hands/labelers/{alice['id']}", headers=auth(admin)).status_code == 204
    assert client.delete(f"{api}/hands/labelers/{alice['id']}", headers=auth(admin)).status_code == 404
    archived = client.post(f"{api}/hands/archive", headers=auth(admin))
    assert archived.status_code == 200 and archived.json()["archived_at"]
    assert [c["name"] for c in client.get(api, headers=auth(admin)).json()] == ["default"]
    assert [c["name"] for c in client.get(f"{api}?archived=true", headers=auth(admin)).json()] == ["default", "hands"]
    late = client.put(f"{api}/hands/labelers/{alice['id']}", headers=auth(admin), json={})
    assert late.status_code == 409 and "archived" in late.json()["detail"]


def test_bad_campaign_input_gets_a_clear_4xx(client, admin, alice):
    api = "/api/v1/admin/campaigns"
    for bad in ({"name": "Hands"}, {"name": ""}, {"name": "a b"}, {"name": "x" * 64}, {"name": "ok", "extra": 1},
                {"name": "ok", "description": "d" * 501}, {"name": "ok", "open_to_all": "maybe"}, {}):  # fmt: skip
        refused = client.post(api, headers=auth(admin), json=bad)
        assert refused.status_code == 422, (bad, refused.text)
    client.post(api, headers=auth(admin), json={"name": "hands"})
    for share in (0, -1, 1.5, "all"):
        refused = client.put(f"{api}/hands/labelers/{alice['id']}", headers=auth(admin), json={"share": share})
        assert refused.status_code == 422, (share, refused.text)
    missing = {
        ("GET", f"{api}/nope"): "no campaign is named 'nope'",
        ("POST", f"{api}/nope/archive"): "no campaign is named 'nope'",
        ("GET", f"{api}/nope/labelers"): "no campaign is named 'nope'",
        ("PUT", f"{api}/hands/labelers/999"): "no labeler has id 999",
        ("GET", "/api/v1/guidelines?campaign=nope"): "no campaign is named 'nope'",
        ("PUT", "/api/v1/admin/guidelines?campaign=nope"): "no campaign is named 'nope'",
    }
    for (method, url), reason in missing.items():
        answer = client.request(method, url, headers=auth(admin), json={"question": "q"} if "guidelines" in url else {})
        assert answer.status_code == 404 and reason in answer.json()["detail"], (url, answer.text)
    assert client.get(f"{api}/Not%20A%20Name", headers=auth(admin)).status_code == 422
    assert client.get("/api/v1/guidelines?campaign=BAD", headers=auth(alice)).status_code == 422
    assert client.post(f"{api}/default/archive", headers=auth(admin)).status_code == 409


def test_a_campaigns_prompts_pairs_and_votes_over_rest(client, admin, alice, bob):
    api = "/api/v1/admin/campaigns"
    client.post(api, headers=auth(admin), json={"name": "hands"})
    client.put(f"{api}/hands/labelers/{alice['id']}", headers=auth(admin), json={})
    added = client.post("/api/v1/admin/prompts?campaign=hands", headers=auth(admin), json={"prompts": ["two hands"]})
    assert added.status_code == 201 and added.json() == {"added": 1, "skipped": 0}
    listed = client.get("/api/v1/admin/prompts?campaign=hands", headers=auth(admin)).json()
    assert [p["text"] for p in listed] == ["two hands"]
    assert "two hands" not in [p["text"] for p in client.get("/api/v1/admin/prompts", headers=auth(admin)).json()]
    unknown = client.post("/api/v1/admin/prompts?campaign=nope", headers=auth(admin), json={"prompts": ["x"]})
    assert unknown.status_code == 404 and "no campaign is named 'nope'" in unknown.json()["detail"]
    assert client.get("/api/v1/admin/prompts?campaign=Bad Name", headers=auth(admin)).status_code == 422

    with session_scope() as session:
        hands = campaigns.by_name(session, "hands").id
    make_comparisons(2, campaign_id=hands)  # alice holds one, then bob may take the other
    counts = client.get(f"{api}/hands", headers=auth(admin)).json()
    assert (counts["prompts"], counts["ready_pairs"], counts["votes"]) == (1, 2, 0)
    assert client.get("/api/v1/comparisons/next", headers=auth(bob)).status_code == 204  # not his campaign
    shown = client.get("/api/v1/comparisons/next", headers=auth(alice))
    assert shown.status_code == 200 and shown.json()["campaign"] == "hands"
    # How a campaign's labelers label, on its pairs: alice is its only one.
    for report in ("stats", "quality"):
        found = client.get(f"/api/v1/admin/labelers/{report}?campaign=hands", headers=auth(admin))
        assert found.status_code == 200 and [(r["name"], r["votes"]) for r in found.json()] == [("alice", 0)]
        assert client.get(f"/api/v1/admin/labelers/{report}?campaign=nope", headers=auth(admin)).status_code == 404
        assert client.get(f"/api/v1/admin/labelers/{report}?campaign=Bad Name", headers=auth(admin)).status_code == 422
    client.delete(f"{api}/hands/labelers/{alice['id']}", headers=auth(admin))
    late = client.post(f"/api/v1/comparisons/{shown.json()['id']}/vote", headers=auth(alice), json={"choice": "left"})
    assert late.status_code == 403 and "not a labeler of campaign 'hands'" in late.json()["detail"]

    votes = client.get("/api/v1/admin/export?form=votes&format=csv&campaign=hands", headers=auth(admin))
    assert votes.status_code == 200 and votes.text.startswith("\"vote_id\"")  # none cast yet: the header
    nope = client.get("/api/v1/admin/export?campaign=nope", headers=auth(admin))
    assert nope.status_code == 404 and "no campaign is named 'nope'" in nope.json()["detail"]

    # An admin closes or opens a campaign, and edits what it says it is for.
    patched = client.patch(f"{api}/hands", headers=auth(admin), json={"open_to_all": True, "description": "Hands."})
    assert patched.status_code == 200 and (patched.json()["open_to_all"], patched.json()["description"]) == (
        True, "Hands.")  # fmt: skip
    assert client.get("/api/v1/comparisons/next", headers=auth(bob)).status_code == 200
    for bad in ({"open_to_all": "maybe"}, {"name": "other"}, {"description": "d" * 501}):
        assert client.patch(f"{api}/hands", headers=auth(admin), json=bad).status_code == 422, bad
    assert client.patch(f"{api}/nope", headers=auth(admin), json={}).status_code == 404
    client.post(f"{api}/hands/archive", headers=auth(admin))
    archived = client.patch(f"{api}/hands", headers=auth(admin), json={"description": "x"})
    assert archived.status_code == 409 and "archived" in archived.json()["detail"]
    gone = client.post("/api/v1/admin/prompts?campaign=hands", headers=auth(admin), json={"prompts": ["x"]})
    assert gone.status_code == 409


def test_a_client_asks_for_a_campaigns_serving_checkpoint(client, admin, alice, tmp_path):
    from sqlalchemy import update

    from core.db.models import Checkpoint, Generation
    from tests.api.test_evaluations_api import new_checkpoint

    client.post("/api/v1/admin/campaigns", headers=auth(admin), json={"name": "hands"})
    with session_scope() as session:
        hands = campaigns.by_name(session, "hands").id
    adapter = new_checkpoint(tmp_path, "hands-1")
    with session_scope() as session:
        session.execute(update(Checkpoint).where(Checkpoint.id == adapter).values(campaign_id=hands))
    promoted = client.post(f"/api/v1/admin/checkpoints/{adapter}/promote", headers=auth(admin), json={})
    assert promoted.status_code == 200 and promoted.json()["campaign_id"] == hands
    listed = {c["id"]: c for c in client.get("/api/v1/checkpoints", headers=auth(admin)).json()}
    assert (listed[adapter]["serves"], listed[1]["serves"], listed[adapter]["campaign_id"]) == (["hands"], ["default"],
                                                                                               hands)  # fmt: skip
    assert all(c["serves"] == [] for c in client.get("/api/v1/checkpoints", headers=auth(alice)).json())

    def pinned(body: dict) -> int | None:
        made = client.post("/api/v1/generations", headers=auth(alice), json={"prompt": "a red circle", **body})
        assert made.status_code == 202, made.text
        with session_scope() as session:
            return session.get(Generation, made.json()["id"]).requested_checkpoint_id

    assert pinned({"campaign": "hands"}) == adapter  # any client, no admin needed: what serves hands
    assert pinned({"campaign": "default"}) is None and pinned({}) is None  # whatever serves default then
    for body, why in (({"campaign": "nope"}, "no campaign is named 'nope'"),
                      ({"campaign": "hands", "checkpoint_id": 1}, "one of checkpoint_id"),
                      ({"campaign": "Hands"}, "pattern")):
        r = client.post("/api/v1/generations", headers=auth(admin), json={"prompt": "a red circle", **body})
        assert r.status_code == 422 and why in r.text, (body, r.text)
    client.post("/api/v1/admin/campaigns/hands/archive", headers=auth(admin))
    late = client.post("/api/v1/generations", headers=auth(alice), json={"prompt": "a red circle", "campaign": "hands"})
    assert late.status_code == 422 and "archived" in late.text


def test_blends_over_rest(client, admin, alice, tmp_path):
    from sqlalchemy import update

    from core.db.models import Checkpoint
    from tests.api.test_evaluations_api import new_checkpoint

    api = "/api/v1/admin/blend"
    assert client.get(api, headers=auth(alice)).status_code == 403
    assert client.put(api, headers=auth(alice), json={"adapters": {"default": 1}}).status_code == 403
    assert client.get(api, headers=auth(admin)).json() == {"adapters": {"default": 1.0}}
    client.post("/api/v1/admin/campaigns", headers=auth(admin), json={"name": "hands"})
    adapter = new_checkpoint(tmp_path, "hands-1")
    with session_scope() as session:
        hands = campaigns.by_name(session, "hands").id
        session.execute(update(Checkpoint).where(Checkpoint.id == adapter).values(campaign_id=hands))
    client.post(f"/api/v1/admin/checkpoints/{adapter}/promote", headers=auth(admin), json={})

    put = client.put(api, headers=auth(admin), json={"adapters": {"default": 0.5, "hands": 0.5}})
    assert put.status_code == 200 and put.json() == {"adapters": {"default": 0.5, "hands": 0.5}}
    assert client.get("/api/v1/admin/campaigns/hands", headers=auth(admin)).json()["blend_weight"] == 0.5

    def made(body: dict):
        return client.post("/api/v1/generations", headers=auth(alice), json={"prompt": "a red circle", **body})

    assert made({}).json()["adapters"] == {"default": 0.5, "hands": 0.5}  # the install's default blend
    assert made({"adapters": {"hands": 1}}).json()["adapters"] == {"hands": 1.0}
    assert made({"campaign": "hands"}).json()["adapters"] is None
    for body, why in (({"adapters": {"nope": 1}}, "no campaign is named 'nope'"),
                      ({"adapters": {"hands": 5}}, "less than"), ({"adapters": {"hands": 0}}, "above 0"),
                      ({"adapters": {}}, "1 to 8"),
                      ({"adapters": {"hands": 1}, "campaign": "hands"}, "one of checkpoint_id"),
                      ({"adapters": {"Hands": 1}}, "pattern"), ({"adapters": ["hands"]}, "dict")):  # fmt: skip
        refused = made(body)
        assert refused.status_code == 422 and why in refused.text, (body, refused.text)
    unknown = made({"adapters": {"nope": 1}}).json()["detail"][0]
    assert unknown["loc"] == ["body", "adapters"]
    for body, why in (({"adapters": {"nope": 1}}, "no campaign"), ({"adapters": {"default": 3}}, "less than"),
                      ({"adapters": {}}, "1 to 8"), ({}, "adapters"), ({"adapters": {"default": 1}, "x": 1}, "extra")):
        refused = client.put(api, headers=auth(admin), json=body)
        assert refused.status_code == 422 and why in refused.text, (body, refused.text)
    assert client.get(api, headers=auth(admin)).json() == {"adapters": {"default": 0.5, "hands": 0.5}}  # unchanged


def test_round_defaults_over_rest(client, admin):
    api = "/api/v1/admin/campaigns"
    client.post(api, headers=auth(admin), json={"name": "hands"})
    saved = client.patch(f"{api}/hands", headers=auth(admin), json={"round_defaults": {"beta": 1000}})
    assert saved.status_code == 200 and saved.json()["round_defaults"] == {"beta": 1000}, saved.text
    for bad, why in (({"beta": "high"}, "beta"), ({"start_from": 1}, "per round"), ({"steps": 0}, "steps")):
        refused = client.patch(f"{api}/hands", headers=auth(admin), json={"round_defaults": bad})
        assert refused.status_code == 422 and why in refused.text, refused.text
        assert refused.json()["detail"][0]["loc"] == ["body", "round_defaults"]
    assert client.patch(f"{api}/hands", headers=auth(admin), json={"round_defaults": [1]}).status_code == 422
    assert client.get(f"{api}/hands", headers=auth(admin)).json()["round_defaults"] == {"beta": 1000}
    assert client.patch(f"{api}/nope", headers=auth(admin), json={"round_defaults": {}}).status_code == 404
    started = client.post("/api/v1/admin/rounds", headers=auth(admin), json={"config": {}, "campaign": "hands"})
    assert started.status_code == 202 and started.json()["config"]["beta"] == 1000, started.text  # its defaults
    listed = client.get("/api/v1/admin/rounds?campaign=hands", headers=auth(admin)).json()
    assert [r["id"] for r in listed] == [started.json()["id"]]
    assert client.get("/api/v1/admin/rounds?campaign=default", headers=auth(admin)).json() == []
    assert client.get("/api/v1/admin/rounds?campaign=nope", headers=auth(admin)).status_code == 404
    assert client.get("/api/v1/admin/rounds?campaign=Bad", headers=auth(admin)).status_code == 422
