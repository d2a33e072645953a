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


def test_an_admin_rejects_or_promotes_the_judged_candidate_over_rest(client, admin, alice, tmp_path):
    from core.services import candidates

    first = new_checkpoint(tmp_path, "first")
    with session_scope() as session:
        candidates.nominate(session, first)
    assert client.post(f"/api/v1/admin/checkpoints/{first}/reject", headers=auth(alice)).status_code == 403
    r = client.post("/api/v1/admin/checkpoints/1/reject", headers=admin)
    assert r.status_code == 409 and "not a candidate under judgement" in r.json()["detail"]
    assert client.post("/api/v1/admin/checkpoints/999/reject", headers=admin).status_code == 404
    r = client.post(f"/api/v1/admin/checkpoints/{first}/reject", headers=admin, json={"reason": "blurry hands"})
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    assert r.json()["candidate"] | {"created_at": None, "decided_at": None} == {
        "state": "rejected", "wins": 0, "losses": 0, "ties": 0, "votes_needed_estimate": None, "bounds": None,
        "serving_id": 1, "reason": "rejected by root: blurry hands", "decided_by": "root", "created_at": None,
        "decided_at": None,
    }  # fmt: skip
    assert client.post(f"/api/v1/admin/checkpoints/{first}/reject", headers=admin).status_code == 409  # decided

    second = new_checkpoint(tmp_path, "second")
    with session_scope() as session:
        candidates.nominate(session, second)
    assert client.post(f"/api/v1/admin/checkpoints/{second}/promote", headers=admin).status_code == 200
    shown = client.get(f"/api/v1/checkpoints/{second}", headers=auth(alice)).json()
    assert shown["active"] and (shown["candidate"]["state"], shown["candidate"]["decided_by"]) == ("promoted", "root")
    assert client.get("/api/v1/checkpoints/active", headers=admin).json()["id"] == second


def test_no_client_generation_names_a_judged_or_rejected_candidate(client, admin, tmp_path):
    from core.services import candidates

    judged_id, rejected_id = new_checkpoint(tmp_path, "judged"), new_checkpoint(tmp_path, "rejected")
    with session_scope() as session:
        candidates.nominate(session, rejected_id)
    client.post(f"/api/v1/admin/checkpoints/{rejected_id}/reject", headers=admin)
    with session_scope() as session:
        candidates.nominate(session, judged_id)
    for checkpoint_id, why in ((judged_id, "under the labelers' judgement"), (rejected_id, "rejected as a candidate")):
        r = client.post(
            "/api/v1/generations", headers=admin, json={"prompt": "a red circle", "checkpoint_id": checkpoint_id}
        )
        assert r.status_code == 422 and why in r.text, r.text
