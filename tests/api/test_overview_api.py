"""GET /admin/overview: the numbers the console's first page shows match the database."""

import pytest

from core.queue import QueueUnavailable, sending_to
from core.services import rounds
from core.settings import get_settings
from core.states import RoundTrigger
from tests.api.conftest import auth
from tests.helpers.data import make_comparisons


def test_the_overview_matches_the_database(client, admin, alice):
    make_comparisons(3)
    pair = client.get("/api/v1/comparisons/next", headers=auth(alice)).json()
    assert client.get("/api/v1/admin/overview", headers=admin).json()["pool_ready"] == 2  # one is held
    client.post(f"/api/v1/comparisons/{pair['id']}/vote", headers=auth(alice), json={"choice": "left"})

    def refuse(name, args):
        raise ConnectionRefusedError("no broker")

    with sending_to(refuse), pytest.raises(QueueUnavailable):  # a refused round: the page's last failure
        rounds.start_round(get_settings(), RoundTrigger.admin)
    body = client.get("/api/v1/admin/overview", headers=admin).json()
    assert body["active_checkpoint_id"] == 1 and body["pool_ready"] == 2 and body["pool_target"] == 24
    assert (body["votes_total"], body["votes_last_hour"], body["decisive_since_last_round"]) == (1, 1, 1)
    assert body["refill_pairs_per_min"] == 0.3  # three pairs in the last ten minutes
    assert body["running_round"] is None and "could not queue" in body["failed_rounds"][0]["error"]
    assert set(body["queue_depths"]) == {"generate", "pool", "housekeeping", "train"}
    assert all(isinstance(depth, int) for depth in body["queue_depths"].values())

    queued = client.post("/api/v1/admin/rounds", headers=admin, json={"config": {"steps": 9}}).json()
    body = client.get("/api/v1/admin/overview", headers=admin).json()
    assert body["running_round"] == {"id": queued["id"], "state": "queued", "trigger": "admin", "step": 0,
                                     "steps": 9, "metrics": {}}  # fmt: skip
    assert body["queue_depths"]["train"] == 1  # its task waits for a train worker
    assert client.get("/api/v1/admin/overview", headers=auth(alice)).status_code == 403
