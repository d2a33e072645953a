"""The labelers decide what serves, on the real stack (API, Celery generate worker and beat on Postgres and
Redis): while a candidate is judged every client image comes from what serves, a rejected candidate
never serves, and once the labelers' votes over REST give the verdict the next client image comes
from the promoted candidate (the hot swap)."""

from __future__ import annotations

import httpx

from core.db.models import Generation
from core.db.session import session_scope
from core.services import candidates
from tests.helpers.checkpoints import register, trained_checkpoint
from tests.helpers.data import make_labeler, sees_a_on_the_left, serve
from tests.helpers.stack import generation_to_the_end, wait_until
from tests.services.test_candidates import eval_pairs


def nominated(path, kind: str = "lora") -> int:
    """A real checkpoint made the candidate, as rounds.publish makes one that passed the gate."""
    checkpoint_id = register(path, kind)
    with session_scope() as session:
        candidates.nominate(session, checkpoint_id)
    return checkpoint_id


def test_a_candidate_serves_no_client_until_the_labelers_promote_it(live_stack, embedded_model, tmp_path):
    base, worker = live_stack["base_url"], live_stack["services"][1]
    client = {"Authorization": f"Bearer {make_labeler('client')[1]}"}
    admin = {"Authorization": f"Bearer {make_labeler('root', admin=True)[1]}"}

    def generated_by() -> int:
        made = generation_to_the_end(base, client, {"prompt": "a large blue square", "num_inference_steps": 4},
                                     proc=worker)  # fmt: skip
        assert made["status"] == "done", made
        with session_scope() as session:
            return session.get(Generation, made["id"]).checkpoint_id

    rejected = nominated(trained_checkpoint(embedded_model, tmp_path / "rejected"))
    assert generated_by() == 1  # judged, not serving
    r = httpx.post(f"{base}/api/v1/admin/checkpoints/{rejected}/reject", headers=admin, json={"reason": "no"})
    assert r.status_code == 200 and r.json()["candidate"]["state"] == "rejected"
    assert generated_by() == 1

    candidate = nominated(trained_checkpoint(embedded_model, tmp_path / "better"))
    pairs = eval_pairs(candidate, 1, 10)
    assert generated_by() == 1
    people = [make_labeler(name) for name in ("ann", "ben", "cai")]
    for n, pair in enumerate(pairs):
        labeler_id, token = people[n % len(people)]
        handle = serve(pair, labeler_id)  # as GET /comparisons/next leases it
        choice = "left" if sees_a_on_the_left(pair, labeler_id) else "right"  # the candidate's image
        vote = httpx.post(f"{base}/api/v1/comparisons/{handle}/vote", headers={"Authorization": f"Bearer {token}"},
                          json={"choice": choice, "decision_ms": 2500})  # fmt: skip
        assert vote.status_code in (200, 201), vote.text
        state = httpx.get(f"{base}/api/v1/checkpoints/{candidate}", headers=admin).json()["candidate"]["state"]
        if state != "judging":
            break
    assert state == "promoted"  # by the verdict after the vote, in the API process
    active = httpx.get(f"{base}/api/v1/checkpoints/active", headers=admin).json()
    assert active["id"] == candidate and active["candidate"]["decided_by"] == "labelers"
    wait_until(lambda: generated_by() == candidate, 120, "a client image from the promoted candidate", proc=worker)
