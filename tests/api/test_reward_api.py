"""GET /admin/reward and POST /admin/reward/train on Postgres and Redis: admins only, one version at a time,
and a trained version shown with its accuracy beside its ceilings."""

from core.settings import get_settings
from tests.api.conftest import auth
from tests.helpers.reward import voted_square_pairs


def test_admins_ask_for_a_version_and_see_it_once_trained(client, admin, alice):
    from worker.reward.run import train_version

    assert client.get("/api/v1/admin/reward", headers=auth(alice)).status_code == 403
    assert client.get("/api/v1/admin/reward", headers=admin).json() == {"current": None, "versions": []}
    get_settings().ensure_dirs()
    voted_square_pairs(60, people=2)

    queued = client.post("/api/v1/admin/reward/train", headers=admin)
    assert queued.status_code == 202 and queued.json()["state"] == "queued"
    again = client.post("/api/v1/admin/reward/train", headers=admin)
    assert again.status_code == 409 and "already queued" in again.json()["detail"]

    assert train_version(queued.json()["id"], get_settings()) == "ready"  # as the train worker would
    body = client.get("/api/v1/admin/reward", headers=admin).json()
    current = body["current"]
    assert [v["id"] for v in body["versions"]] == [current["id"]] and current["state"] == "ready"
    assert current["votes"] == 120 and current["train_pairs"] + current["held_out_pairs"] == 60
    assert 0 <= current["held_out_accuracy"] <= 1
    assert current["ceilings"]["labelers_agree"]["rate"] == 1.0  # both people voted alike on every pair
    assert current["card"]["seconds"]["total"] > 0
