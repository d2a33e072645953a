"""GET /admin/arena: checkpoints with human evaluation votes on one Bradley-Terry scale."""

from core.db.session import session_scope
from core.repo.checkpoints import promote
from tests.api.conftest import auth
from tests.api.test_evaluations_api import evaluation, new_checkpoint
from tests.helpers.data import sees_a_on_the_left


def test_the_arena_ranks_a_preferred_checkpoint_above_the_base(client, admin, alice, tmp_path):
    new = new_checkpoint(tmp_path, "new")
    with session_scope() as session:
        promote(session, new, by="test")
    _, eval_ids = evaluation(new, 1, 6)
    for i in range(6):  # alice prefers the new checkpoint's image 5 times and calls one a tie
        pair = client.get("/api/v1/comparisons/next", headers=auth(alice)).json()
        new_side = "left" if sees_a_on_the_left(pair["id"], int(alice["id"])) else "right"
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
