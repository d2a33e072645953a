"""DELETE /comparisons/{handle}/vote over REST, on Postgres: a labeler's undo, its refusals as 4xx with a
reason, and the metrics that keep counting a vote taken back."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from core.db.models import Vote
from core.db.session import session_scope
from tests.api.conftest import auth
from tests.api.test_metrics_api import scrape, value
from tests.helpers.data import make_comparisons


def vote(client, labeler, handle: str, choice: str = "left"):
    return client.post(f"/api/v1/comparisons/{handle}/vote", headers=auth(labeler), json={"choice": choice})


def test_undo_takes_the_vote_back_and_the_same_handle_votes_again(client, admin, alice):
    make_comparisons(2)
    handle = client.get("/api/v1/comparisons/next", headers=auth(alice)).json()["id"]
    assert vote(client, alice, handle).status_code == 201
    undone = client.delete(f"/api/v1/comparisons/{handle}/vote", headers=auth(alice))
    assert undone.status_code == 200, undone.text
    assert undone.json()["comparison_id"] == handle and undone.json()["reopened"] is True
    # Held for alice again: the next pair she is served is it, and she votes on it anew.
    assert client.get("/api/v1/comparisons/next", headers=auth(alice)).json()["id"] == handle
    again = vote(client, alice, handle, "right")
    assert again.status_code == 201 and again.json()["choice"] == "right"
    families = scrape(client, admin)
    assert value(families, "dpoloop_votes", "dpoloop_votes_total", choice="left") == 1  # cast, then taken back
    assert value(families, "dpoloop_votes_retracted", "dpoloop_votes_retracted_total") == 1


def test_undo_refusals_say_why(client, alice, bob):
    make_comparisons(3)
    first = client.get("/api/v1/comparisons/next", headers=auth(alice)).json()["id"]
    nothing = client.delete(f"/api/v1/comparisons/{first}/vote", headers=auth(alice))
    assert nothing.status_code == 404 and "no vote" in nothing.json()["detail"]
    vote(client, alice, first)
    others = client.delete(f"/api/v1/comparisons/{first}/vote", headers=auth(bob))
    assert others.status_code == 409 and "not served to you" in others.json()["detail"]
    second = client.get(f"/api/v1/comparisons/next?exclude={first}", headers=auth(alice)).json()["id"]
    vote(client, alice, second)
    older = client.delete(f"/api/v1/comparisons/{first}/vote", headers=auth(alice))
    assert older.status_code == 409 and "most recent" in older.json()["detail"]
    with session_scope() as session:
        session.execute(update(Vote).values(created_at=datetime.now(UTC) - timedelta(seconds=30)))
    late = client.delete(f"/api/v1/comparisons/{second}/vote", headers=auth(alice))
    assert late.status_code == 409 and "too late" in late.json()["detail"]
    assert client.delete("/api/v1/comparisons/not-a-handle!/vote", headers=auth(alice)).status_code == 422
    assert client.delete(f"/api/v1/comparisons/{'x' * 22}/vote", headers=auth(alice)).status_code == 404
    assert client.delete(f"/api/v1/comparisons/{second}/vote").status_code == 401
