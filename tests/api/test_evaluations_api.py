"""Human evaluation over REST, on Postgres: who makes an evaluation (one claim per pair), labelers
served its pairs first while its checkpoint serves, and the win rate the votes give."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from app.db.models import Checkpoint, Comparison, ComparisonKind, Deployment, Evaluation, EvaluationState
from app.db.session import session_scope
from app.repo.checkpoints import promote
from app.repo.comparisons import left_is_a
from app.repo.evaluations import claim_evaluation
from tests.api.conftest import auth
from tests.helpers.data import make_comparisons


def new_checkpoint(tmp_path, name: str) -> int:
    directory = tmp_path / name
    directory.mkdir()
    (directory / "pytorch_lora_weights.safetensors").write_bytes(b"")  # promote() checks the file is there
    with session_scope() as session:
        row = Checkpoint(name=name, kind="lora", path=str(directory), parent_id=1, status="ready", metrics={})
        session.add(row)
        session.flush()
        return row.id


def claim(checkpoint_id: int, baseline_id: int) -> int | None:
    with session_scope() as session:
        return claim_evaluation(session, checkpoint_id, baseline_id)


def test_one_worker_claims_an_evaluation_and_a_failed_one_is_taken_again_later(client, tmp_path):
    new = new_checkpoint(tmp_path, "new")
    evaluation_id = claim(new, 1)
    assert evaluation_id is not None
    assert claim(new, 1) is None  # being made by the first claimer
    with session_scope() as session:
        session.execute(update(Evaluation).values(state=EvaluationState.failed, error="boom"))
    assert claim(new, 1) is None  # failed just now: not retried at once
    with session_scope() as session:
        session.execute(update(Evaluation).values(claimed_at=datetime.now(UTC) - timedelta(minutes=5)))
    assert claim(new, 1) == evaluation_id
    with session_scope() as session:
        row = session.get(Evaluation, evaluation_id)
        assert row.state == EvaluationState.generating and row.error is None
        row.state = EvaluationState.ready
    assert claim(new, 1) is None
    assert claim(1, new) not in (None, evaluation_id)  # a rollback is another evaluation


def eval_comparisons(evaluation_id: int, checkpoint_id: int, count: int) -> list[int]:
    ids = make_comparisons(count, checkpoint_id=checkpoint_id, seed=evaluation_id)
    with session_scope() as session:
        session.execute(update(Comparison).where(Comparison.id.in_(ids))
                        .values(kind=ComparisonKind.eval, evaluation_id=evaluation_id))  # fmt: skip
    return ids


def test_labelers_measure_the_served_checkpoint_and_admins_read_its_win_rate(client, admin, alice, bob, tmp_path):
    new = new_checkpoint(tmp_path, "new")
    with session_scope() as session:
        promote(session, new, by="test")
    evaluation_id = claim(new, 1)
    eval_ids = eval_comparisons(evaluation_id, new, 4)
    train_ids = make_comparisons(2, checkpoint_id=new, seed=99)
    with session_scope() as session:
        session.execute(update(Evaluation).values(state=EvaluationState.ready, pairs=4))

    # alice: the new checkpoint's image on 3 pairs and a tie on the 4th; eval pairs come before train ones.
    seen = []
    for i in range(4):
        served = client.get("/api/v1/comparisons/next", headers=auth(alice)).json()
        seen.append(served["id"])
        new_side = "left" if left_is_a(served["id"], int(alice["id"])) else "right"
        choice = "tie" if i == 3 else new_side
        assert client.post(f"/api/v1/comparisons/{served['id']}/vote", headers=auth(alice),
                           json={"choice": choice}).status_code in (200, 201)  # fmt: skip
    assert sorted(seen) == eval_ids
    assert client.get("/api/v1/comparisons/next", headers=auth(alice)).json()["id"] in train_ids
    # bob: the old one's image once, and "both bad" once (no verdict, counted apart).
    for i, comparison_id in enumerate(eval_ids[:2]):
        old_side = "right" if left_is_a(comparison_id, int(bob["id"])) else "left"
        client.post(f"/api/v1/comparisons/{comparison_id}/vote", headers=auth(bob),
                    json={"choice": old_side if i == 0 else "both_bad"})  # fmt: skip

    listed = client.get("/api/v1/admin/evaluations", headers=admin).json()
    assert len(listed) == 1
    verdict = listed[0]
    assert (verdict["checkpoint_id"], verdict["baseline_id"], verdict["state"], verdict["pairs"]) == (
        new,
        1,
        "ready",
        4,
    )
    assert (verdict["wins"], verdict["losses"], verdict["ties"], verdict["both_bad"]) == (3, 1, 1, 1)
    assert verdict["win_rate"] == 3.5 / 5
    low, high = verdict["interval"]
    assert 0 < low < 0.7 < high <= 1
    checkpoints = {c["id"]: c for c in client.get("/api/v1/checkpoints", headers=auth(alice)).json()}
    assert checkpoints[new]["human_eval"]["win_rate"] == 3.5 / 5 and checkpoints[1]["human_eval"] is None
    assert client.get("/api/v1/checkpoints/active", headers=auth(alice)).json()["human_eval"]["id"] == evaluation_id
    assert client.get(f"/api/v1/admin/evaluations?checkpoint_id={1}", headers=admin).json() == []

    # Labelers only; bad filters are a 4xx.
    assert client.get("/api/v1/admin/evaluations", headers=auth(alice)).status_code == 403
    assert client.get("/api/v1/admin/evaluations?checkpoint_id=0", headers=admin).status_code == 422
    assert client.get(f"/api/v1/admin/evaluations?checkpoint_id={2**63}", headers=admin).status_code == 422


def test_a_newer_promotion_retires_the_old_evaluation_pairs(client, alice, tmp_path):
    new = new_checkpoint(tmp_path, "new")
    with session_scope() as session:
        promote(session, new, by="test")
    eval_comparisons(claim(new, 1), new, 2)
    with session_scope() as session:
        promote(session, 1, by="test")  # a rollback: the pairs measured a checkpoint that no longer serves
        assert session.query(Deployment).count() == 3
    assert client.get("/api/v1/comparisons/next", headers=auth(alice)).status_code == 204
