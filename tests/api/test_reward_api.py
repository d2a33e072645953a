"""GET /admin/reward and POST /admin/reward/train on Postgres and Redis: admins only, one version at a time
per campaign, and a trained version shown with its accuracy beside its ceilings; ?campaign= names whose."""

from core.settings import get_settings
from tests.api.conftest import auth
from tests.helpers.reward import voted_square_pairs


def test_admins_ask_for_a_version_and_see_it_once_trained(client, admin, alice):
    from worker.reward.run import train_version

    assert client.get("/api/v1/admin/reward", headers=auth(alice)).status_code == 403
    empty = {"campaign": "default", "current": None, "versions": []}
    assert client.get("/api/v1/admin/reward", headers=admin).json() == empty
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


def test_each_campaign_has_its_own_versions(client, admin):
    from core.services import campaigns

    hands = campaigns.create("hands", "", open_to_all=True, by="root").id
    get_settings().ensure_dirs()
    voted_square_pairs(10, people=1, campaign_id=hands, larger=False)
    queued = client.post("/api/v1/admin/reward/train?campaign=hands", headers=admin)
    assert queued.status_code == 202 and queued.json()["campaign_id"] == hands
    other = client.post("/api/v1/admin/reward/train", headers=admin)  # default's is another model
    assert other.status_code == 202 and other.json()["campaign_id"] == 1
    busy = client.post("/api/v1/admin/reward/train?campaign=hands", headers=admin)
    assert busy.status_code == 409 and "in campaign 'hands'" in busy.json()["detail"]
    body = client.get("/api/v1/admin/reward?campaign=hands", headers=admin).json()
    assert body["campaign"] == "hands" and [v["id"] for v in body["versions"]] == [queued.json()["id"]]
    assert [v["id"] for v in client.get("/api/v1/admin/reward", headers=admin).json()["versions"]] == [
        other.json()["id"]]  # fmt: skip
    for bad, code in (("nope", 404), ("Not A Name", 422)):
        assert client.get(f"/api/v1/admin/reward?campaign={bad}", headers=admin).status_code == code
        assert client.post(f"/api/v1/admin/reward/train?campaign={bad}", headers=admin).status_code == code
    campaigns.archive("hands")
    refused = client.post("/api/v1/admin/reward/train?campaign=hands", headers=admin)
    assert refused.status_code == 409 and "archived" in refused.json()["detail"]
    assert client.get("/api/v1/admin/reward?campaign=hands", headers=admin).json()["versions"]  # kept, readable
