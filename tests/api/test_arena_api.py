"""GET /admin/arena: checkpoints with human evaluation votes on one Bradley-Terry scale."""

from sqlalchemy import select

from core.db.models import Campaign
from core.db.session import session_scope
from core.repo.checkpoints import promote
from tests.api.conftest import auth
from tests.api.test_evaluations_api import evaluation, new_checkpoint
from tests.helpers.data import pair_of, sees_a_on_the_left


def test_the_arena_ranks_a_preferred_checkpoint_above_the_base(client, admin, alice, tmp_path):
    new = new_checkpoint(tmp_path, "new")
    with session_scope() as session:
        promote(session, new, by="test")
    _, eval_ids = evaluation(new, 1, 6)
    for i in range(6):  # alice prefers the new checkpoint's image 5 times and calls one a tie
        pair = client.get("/api/v1/comparisons/next", headers=auth(alice)).json()
        new_side = "left" if sees_a_on_the_left(pair_of(pair["id"]), int(alice["id"])) else "right"
        client.post(f"/api/v1/comparisons/{pair['id']}/vote", headers=auth(alice),
                    json={"choice": "tie" if i == 5 else new_side})  # fmt: skip
    body = client.get("/api/v1/admin/arena", headers=admin).json()
    assert body["votes"] == 6 and body["bootstrap"] > 0
    top, base = body["standings"]
    assert top["checkpoint_id"] == new and top["name"] == "new" and (top["wins"], top["ties"]) == (5, 1)
    assert base["checkpoint_id"] == 1 and base["strength"] == 0.0 and base["losses"] == 5
    assert top["strength"] > 0 and top["interval"][0] <= top["strength"] <= top["interval"][1]
    assert client.get("/api/v1/admin/arena", headers=auth(alice)).status_code == 403


def test_an_empty_arena(client, admin):
    assert client.get("/api/v1/admin/arena", headers=admin).json() == {"standings": [], "votes": 0, "bootstrap": 0}


def test_admins_queue_a_match_of_any_two_checkpoints_and_bad_ones_are_refused(client, admin, alice, tmp_path):
    first, second = new_checkpoint(tmp_path, "first"), new_checkpoint(tmp_path, "second")
    url = "/api/v1/admin/arena/matches"
    created = client.post(url, headers=admin, json={"checkpoint_a_id": first, "checkpoint_b_id": second})
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["checkpoint_a_id"], body["checkpoint_b_id"], body["state"]) == (first, second, "rendering")
    assert body["requested_by"] == "root" and body["evaluation_id"] is None
    again = client.post(url, headers=admin, json={"checkpoint_a_id": second, "checkpoint_b_id": first})
    assert again.status_code == 409 and "already being rendered" in again.json()["detail"]
    itself = client.post(url, headers=admin, json={"checkpoint_a_id": first, "checkpoint_b_id": first})
    assert itself.status_code == 409 and "itself" in itself.json()["detail"]
    missing = client.post(url, headers=admin, json={"checkpoint_a_id": first, "checkpoint_b_id": 9999})
    assert missing.status_code == 404 and "9999" in missing.json()["detail"]
    for bad in ({"checkpoint_a_id": first}, {"checkpoint_a_id": 0, "checkpoint_b_id": 1},
                {"checkpoint_a_id": first, "checkpoint_b_id": second, "extra": 1}):  # fmt: skip
        assert client.post(url, headers=admin, json=bad).status_code == 422
    labeler = client.post(url, headers=auth(alice), json={"checkpoint_a_id": 1, "checkpoint_b_id": first})
    assert labeler.status_code == 403
    assert [m["id"] for m in client.get(url, headers=admin).json()] == [body["id"]]


def test_each_campaign_has_its_own_arena_and_matches_stay_in_one_lineage(client, admin, alice, tmp_path):
    from sqlalchemy import update

    from core.db.models import Checkpoint, Comparison

    assert client.post("/api/v1/admin/campaigns", headers=admin, json={"name": "hands", "open_to_all": True}
                       ).status_code == 201  # fmt: skip
    ours, theirs = new_checkpoint(tmp_path, "ours"), new_checkpoint(tmp_path, "theirs")
    with session_scope() as session:
        hands = session.scalar(select(Campaign.id).where(Campaign.name == "hands"))
        session.execute(update(Checkpoint).where(Checkpoint.id == theirs).values(campaign_id=hands))
        promote(session, theirs, by="test")
    _, eval_ids = evaluation(theirs, 1, 4)
    with session_scope() as session:  # hands' evaluation pairs, as the worker writes them
        session.execute(update(Comparison).where(Comparison.id.in_(eval_ids)).values(campaign_id=hands))
    for _ in range(4):  # alice (open campaigns: in both) prefers hands' checkpoint every time
        pair = client.get("/api/v1/comparisons/next", headers=auth(alice)).json()
        assert pair["campaign"] == "hands"
        new_side = "left" if sees_a_on_the_left(pair_of(pair["id"]), int(alice["id"])) else "right"
        client.post(f"/api/v1/comparisons/{pair['id']}/vote", headers=auth(alice), json={"choice": new_side})

    body = client.get("/api/v1/admin/arena?campaign=hands", headers=admin).json()
    assert [(s["checkpoint_id"], s["wins"]) for s in body["standings"]] == [(theirs, 4), (1, 0)]
    assert client.get("/api/v1/admin/arena", headers=admin).json()["standings"] == []  # default's: no votes
    assert client.get("/api/v1/admin/arena?campaign=nope", headers=admin).status_code == 404
    assert client.get("/api/v1/admin/arena?campaign=Not!", headers=admin).status_code == 422

    url = "/api/v1/admin/arena/matches"
    across = client.post(url, headers=admin, json={"checkpoint_a_id": ours, "checkpoint_b_id": theirs})
    assert across.status_code == 409 and "two campaigns' lineages" in across.json()["detail"]
    with_base = client.post(url, headers=admin, json={"checkpoint_a_id": 1, "checkpoint_b_id": ours})
    assert with_base.status_code == 201
    assert [m["id"] for m in client.get(f"{url}?campaign=default", headers=admin).json()] == [with_base.json()["id"]]
    assert client.get(f"{url}?campaign=hands", headers=admin).json() == []
    assert client.get(f"{url}?campaign=nope", headers=admin).status_code == 404
