"""GET /admin/overview and /admin/pairing: the numbers the console's first page shows match the database."""

import pytest

from core.db.models import Comparison
from core.db.session import session_scope
from core.queue import QueueUnavailable, sending_to
from core.services import rounds
from core.settings import get_settings
from core.states import ComparisonKind, RoundTrigger
from tests.api.conftest import auth
from tests.helpers.data import make_comparisons, make_labeler, serve


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


def test_human_votes_are_counted_per_pairing_strategy(client, admin, alice, bob, monkeypatch):
    """Per strategy, the human votes on its pairs: decisive ones (a round trains on them) against
    ties, both-bad and passes. An AI labeler's votes (and a pair only it voted on) and gold pairs do
    not count; the share leaves passes out; the strategy the settings name now is marked; most votes
    first; a train pair without a recorded strategy shows as such."""
    monkeypatch.setenv("DPOLOOP_PAIRING", "diverse")
    monkeypatch.setenv("DPOLOOP_VOTES_PER_COMPARISON", "2")
    get_settings.cache_clear()
    assert client.get("/api/v1/admin/pairing", headers=admin).json() == []
    random_pairs = make_comparisons(2, seed=1, pairing="random")
    diverse_pairs = make_comparisons(4, seed=2, pairing="diverse")
    unrecorded = make_comparisons(1, seed=3)[0]
    gold = make_comparisons(1, seed=4)[0]
    with session_scope() as session:
        session.get(Comparison, gold).kind = ComparisonKind.gold
    bot_id, bot_token = make_labeler("bot", ai=True)
    bot = {"Authorization": f"Bearer {bot_token}", "id": str(bot_id)}
    votes = [(alice, random_pairs[0], "left"), (bob, random_pairs[0], "tie"), (alice, random_pairs[1], "skip"),
             (alice, diverse_pairs[0], "right"), (bob, diverse_pairs[0], "tie"), (bob, diverse_pairs[1], "left"),
             (alice, diverse_pairs[2], "both_bad"), (bot, diverse_pairs[2], "tie"), (bot, diverse_pairs[3], "left"),
             (alice, unrecorded, "left"), (bob, gold, "left")]  # fmt: skip
    for who, comparison, choice in votes:
        handle = serve(comparison, int(who["id"]))
        response = client.post(f"/api/v1/comparisons/{handle}/vote", headers=auth(who), json={"choice": choice})
        assert response.status_code == 201, response.text

    assert client.get("/api/v1/admin/pairing", headers=auth(alice)).status_code == 403
    assert client.get("/api/v1/admin/pairing", headers=admin).json() == [
        {"strategy": "diverse", "current": True, "pairs": 3, "votes": 4, "decisive": 2, "ties": 1, "both_bad": 1,
         "skips": 0, "decisive_share": 0.5},
        {"strategy": "random", "current": False, "pairs": 2, "votes": 3, "decisive": 1, "ties": 1, "both_bad": 0,
         "skips": 1, "decisive_share": 0.5},
        {"strategy": "unrecorded", "current": False, "pairs": 1, "votes": 1, "decisive": 1, "ties": 0, "both_bad": 0,
         "skips": 0, "decisive_share": 1.0},
    ]  # fmt: skip
