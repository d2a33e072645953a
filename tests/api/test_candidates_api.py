"""Candidates over REST, on Postgres: what admins and labelers see of a candidacy, the overview's
candidate, the admin's promote and reject of one, and a client generation never made by one."""

from core.db.models import Candidacy
from core.db.session import session_scope
from core.states import CandidateState
from tests.api.conftest import auth
from tests.api.test_evaluations_api import new_checkpoint

COUNTS = ("wins", "losses", "ties", "votes_needed_estimate", "bounds")


def judged(tmp_path, name: str = "candidate", **tallies) -> int:
    """A checkpoint under judgement against the base, with tallies as a review would have stored them."""
    checkpoint_id = new_checkpoint(tmp_path, name)
    values = {"wins": 7, "losses": 2, "ties": 1, "votes_needed_estimate": 30, "bounds": [0.41, 0.93]} | tallies
    with session_scope() as session:
        session.add(Candidacy(checkpoint_id=checkpoint_id, serving_id=1, **values))
    return checkpoint_id


def test_admins_see_a_judged_candidates_tallies_and_labelers_its_state_only(client, admin, alice, tmp_path):
    candidate = judged(tmp_path)
    shown = {c["id"]: c for c in client.get("/api/v1/checkpoints", headers=admin).json()}
    assert shown[1]["candidate"] is None and shown[candidate]["active"] is False  # never a candidate; not serving
    full = shown[candidate]["candidate"]
    assert set(full) == {*COUNTS, "state", "serving_id", "reason", "decided_by", "created_at", "decided_at"}
    assert full["state"] == "judging" and (full["wins"], full["losses"], full["ties"]) == (7, 2, 1)
    assert full["bounds"] == [0.41, 0.93] and full["votes_needed_estimate"] == 30 and full["serving_id"] == 1
    for path in ("/api/v1/checkpoints", f"/api/v1/checkpoints/{candidate}"):
        body = client.get(path, headers=auth(alice)).json()
        seen = next(c for c in body if c["id"] == candidate) if isinstance(body, list) else body
        assert seen["candidate"]["state"] == "judging" and all(seen["candidate"][k] is None for k in COUNTS)
    assert client.get(f"/api/v1/checkpoints/{candidate}", headers=admin).json()["candidate"]["wins"] == 7
    assert client.get("/api/v1/checkpoints/active", headers=admin).json()["id"] == 1  # a candidate never is

    overview = client.get("/api/v1/admin/overview", headers=admin).json()["candidate"]
    assert overview["checkpoint_id"] == candidate and overview["name"] == "candidate"
    assert overview["rule"] == {"alpha": 0.05, "beta": 0.05, "margin": 0.1, "max_votes": 400}
    assert {k: overview[k] for k in full} == full


def test_once_decided_the_tallies_are_everyones_and_the_overview_has_no_candidate(client, admin, alice, tmp_path):
    candidate = judged(tmp_path)
    with session_scope() as session:
        row = session.query(Candidacy).one()
        row.state, row.reason, row.decided_by = CandidateState.rejected, "the labelers found it not better", "labelers"
    seen = client.get(f"/api/v1/checkpoints/{candidate}", headers=auth(alice)).json()["candidate"]
    assert seen["state"] == "rejected" and seen["wins"] == 7 and seen["decided_by"] == "labelers"
    assert client.get("/api/v1/admin/overview", headers=admin).json()["candidate"] is None
