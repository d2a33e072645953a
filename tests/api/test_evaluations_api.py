"""Human evaluation over REST, on Postgres: an evaluation is written once with its pairs, labelers
are served its pairs first while its checkpoint serves, admins (only) read the win rate the votes give."""

from sqlalchemy import delete, insert, update

from core.db.models import Checkpoint, Comparison, Evaluation, Prompt
from core.db.session import session_scope
from core.repo.checkpoints import promote
from core.repo.evaluations import EvaluationRequest, create_evaluation, evaluation_exists
from core.repo.prompts import active_prompts, add_prompts, seed_shipped_prompts
from core.schemas.generation import GenerationParams
from core.states import ComparisonKind, ComparisonState
from tests.api.conftest import auth
from tests.conftest import apply_settings
from tests.helpers.data import make_comparisons, make_labeler, pair_of, sees_a_on_the_left, serve


def new_checkpoint(tmp_path, name: str) -> int:
    directory = tmp_path / name
    directory.mkdir()
    (directory / "pytorch_lora_weights.safetensors").write_bytes(b"")  # promote() checks the file is there
    with session_scope() as session:
        row = Checkpoint(name=name, kind="lora", path=str(directory), parent_id=1, status="ready", metrics={})
        session.add(row)
        session.flush()
        return row.id


def test_an_evaluation_is_written_once_with_its_pairs(client, tmp_path):
    new = new_checkpoint(tmp_path, "new")
    requests = [EvaluationRequest(None, GenerationParams(prompt="a red circle", seed=s)) for s in (1, 2)]
    images = make_comparisons(2, checkpoint_id=new)  # any finished generations will do as images here
    with session_scope() as session:
        a, b = session.get(Comparison, images[0]), session.get(Comparison, images[1])
        pairs = ([a.generation_a_id, b.generation_a_id], [a.generation_b_id, b.generation_b_id])
        first = create_evaluation(session, new, 1, requests, *pairs)
    with session_scope() as session:  # a second worker that got there too
        assert create_evaluation(session, new, 1, requests, *pairs) is None
        assert session.query(Comparison).filter(Comparison.evaluation_id.is_not(None)).count() == 2
        assert session.get(Evaluation, first).pairs == 2
        assert evaluation_exists(session, new, 1) and not evaluation_exists(session, 1, new)


def test_installs_on_the_shipped_prompts_get_the_evaluation_set_and_others_do_not(client):
    with session_scope() as session:
        add_prompts(session, ["a red circle"], source="shipped")  # an install from before the set existed
        assert seed_shipped_prompts(session) == 8
        assert len(active_prompts(session, for_eval=True)) == 8
        assert seed_shipped_prompts(session) == 0
        session.execute(delete(Prompt))
        add_prompts(session, ["a photo of a cat"], source="admin")  # the admins' own prompt set
        assert seed_shipped_prompts(session) == 0 and active_prompts(session, for_eval=True) == []


def evaluation(checkpoint_id: int, baseline_id: int, count: int) -> tuple[int, list[int]]:
    """An evaluation of `count` eval comparisons of rendered scenes."""
    with session_scope() as session:
        evaluation_id = session.scalar(insert(Evaluation).values(checkpoint_id=checkpoint_id, baseline_id=baseline_id,
                                                                 pairs=count).returning(Evaluation.id))  # fmt: skip
    ids = make_comparisons(count, checkpoint_id=checkpoint_id, seed=evaluation_id)
    with session_scope() as session:
        session.execute(update(Comparison).where(Comparison.id.in_(ids))
                        .values(kind=ComparisonKind.eval, evaluation_id=evaluation_id))  # fmt: skip
    return evaluation_id, ids


def test_labelers_measure_the_served_checkpoint_and_admins_read_its_win_rate(
    client, admin, alice, bob, tmp_path, monkeypatch
):
    apply_settings(monkeypatch, votes_per_comparison=2)  # alice and bob both judge the first pairs
    new = new_checkpoint(tmp_path, "new")
    with session_scope() as session:
        promote(session, new, by="test")
    evaluation_id, eval_ids = evaluation(new, 1, 4)
    train_ids = make_comparisons(2, checkpoint_id=new, seed=99)

    # alice: the new checkpoint's image on 3 pairs and a tie on the 4th; eval pairs come before train ones.
    seen = []
    for i in range(4):
        served = client.get("/api/v1/comparisons/next", headers=auth(alice)).json()
        seen.append(pair_of(served["id"]))
        new_side = "left" if sees_a_on_the_left(seen[-1], int(alice["id"])) else "right"
        choice = "tie" if i == 3 else new_side
        assert client.post(f"/api/v1/comparisons/{served['id']}/vote", headers=auth(alice),
                           json={"choice": choice}).status_code in (200, 201)  # fmt: skip
    assert sorted(seen) == eval_ids
    assert pair_of(client.get("/api/v1/comparisons/next", headers=auth(alice)).json()["id"]) in train_ids
    # bob: the old one's image once, and "both bad" once (no verdict, counted apart).
    for i in range(2):
        handle = client.get("/api/v1/comparisons/next", headers=auth(bob)).json()["id"]
        assert pair_of(handle) == eval_ids[i]
        old_side = "right" if sees_a_on_the_left(eval_ids[i], int(bob["id"])) else "left"
        assert client.post(f"/api/v1/comparisons/{handle}/vote", headers=auth(bob),
                           json={"choice": old_side if i == 0 else "both_bad"}).status_code == 201  # fmt: skip

    listed = client.get("/api/v1/admin/evaluations", headers=admin).json()
    assert len(listed) == 1
    verdict = listed[0]
    assert [verdict[k] for k in ("checkpoint_id", "baseline_id", "pairs")] == [new, 1, 4]
    assert (verdict["wins"], verdict["losses"], verdict["ties"], verdict["both_bad"]) == (3, 1, 1, 1)
    assert verdict["win_rate"] == 3.5 / 5
    low, high = verdict["interval"]
    assert 0 < low < 0.7 < high <= 1
    checkpoints = {c["id"]: c for c in client.get("/api/v1/checkpoints", headers=admin).json()}
    assert checkpoints[new]["human_eval"]["win_rate"] == 3.5 / 5 and checkpoints[1]["human_eval"] is None
    assert client.get("/api/v1/checkpoints/active", headers=admin).json()["human_eval"]["id"] == evaluation_id
    # Live counts would tell a labeler which side was the new checkpoint: labelers do not see them.
    assert all(c["human_eval"] is None for c in client.get("/api/v1/checkpoints", headers=auth(alice)).json())
    assert client.get("/api/v1/checkpoints/active", headers=auth(alice)).json()["human_eval"] is None
    assert client.get(f"/api/v1/admin/evaluations?checkpoint_id={1}", headers=admin).json() == []

    # Labelers only; bad filters are a 4xx.
    assert client.get("/api/v1/admin/evaluations", headers=auth(alice)).status_code == 403
    assert client.get("/api/v1/admin/evaluations?checkpoint_id=0", headers=admin).status_code == 422
    assert client.get(f"/api/v1/admin/evaluations?checkpoint_id={2**63}", headers=admin).status_code == 422


def test_a_newer_promotion_retires_the_old_evaluation_pairs(client, alice, tmp_path):
    new = new_checkpoint(tmp_path, "new")
    with session_scope() as session:
        promote(session, new, by="test")
    _, ids = evaluation(new, 1, 2)
    with session_scope() as session:
        promote(session, 1, by="test")  # a rollback: the pairs measured a checkpoint that no longer serves
    with session_scope() as session:
        assert {session.get(Comparison, i).state for i in ids} == {ComparisonState.retired}
    assert client.get("/api/v1/comparisons/next", headers=auth(alice)).status_code == 204


def test_only_people_in_good_standing_are_served_evaluation_pairs_and_counted_over_rest(
    client, admin, alice, tmp_path, monkeypatch
):
    apply_settings(monkeypatch, votes_per_comparison=2)  # room for the AI account's vote after alice's
    new = new_checkpoint(tmp_path, "new")
    with session_scope() as session:
        promote(session, new, by="test")
    _, eval_ids = evaluation(new, 1, 1)
    train_ids = make_comparisons(1, checkpoint_id=new, seed=99)
    robot_id, robot_token = make_labeler("ai-scenes", ai=True)
    robot = {"Authorization": f"Bearer {robot_token}"}
    assert pair_of(client.get("/api/v1/comparisons/next", headers=robot).json()["id"]) == train_ids[0]
    handle = client.get("/api/v1/comparisons/next", headers=auth(alice)).json()["id"]
    served = pair_of(handle)
    assert served == eval_ids[0]
    new_side = "left" if sees_a_on_the_left(served, int(alice["id"])) else "right"
    voted = client.post(f"/api/v1/comparisons/{handle}/vote", headers=auth(alice), json={"choice": new_side})
    assert voted.status_code == 201
    robots = serve(served, robot_id)  # a vote the AI account cast before this rule: it must not count
    robot_vote = client.post(f"/api/v1/comparisons/{robots}/vote", headers=robot, json={"choice": "tie"})
    assert robot_vote.status_code == 201, robot_vote.text
    (listed,) = client.get("/api/v1/admin/evaluations", headers=admin).json()
    assert (listed["wins"], listed["losses"], listed["ties"]) == (1, 0, 0)
    active = client.get("/api/v1/checkpoints/active", headers=admin).json()["human_eval"]
    assert (active["wins"], active["ties"]) == (1, 0)
    (top, _base) = client.get("/api/v1/admin/arena", headers=admin).json()["standings"]
    assert (top["checkpoint_id"], top["wins"], top["ties"]) == (new, 1, 0)
