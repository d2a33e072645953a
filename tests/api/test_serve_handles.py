"""Labelers name pairs by serve handles, never by row ids (SQLite and Postgres, over REST): gold,
evaluation and train pairs cannot be told apart by what the labeling API returns (gold pairs are made
first and live long, so their low ids gave them away); a vote by handle counts once however often the
pair is served again; another labeler's handle, a row id, and garbage are refused with a 4xx."""

import random
import re
import secrets

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select, update

from core.db.models import Comparison, Evaluation, ServeHandle, Vote
from core.db.session import session_scope
from core.states import ComparisonKind
from tests.conftest import apply_settings
from tests.helpers.data import make_comparisons, make_labeler

HANDLE = re.compile(r"[A-Za-z0-9_-]{22}")
IMAGE_URL = re.compile(r"/media/[0-9a-f]{32}\.png\?exp=\d+&sig=[0-9a-f]{32}")


@pytest.fixture(params=["sqlite", "postgres"])
def api(request, monkeypatch, tmp_path):
    """The API on a migrated database of each kind (handles are stored and looked up in SQL)."""
    from app.api.main import create_app
    from core.db.migrate import upgrade

    if request.param == "postgres":
        request.getfixturevalue("pg_settings")
    else:
        apply_settings(monkeypatch, database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}", data_dir=tmp_path / "data",
                       broker_url=request.getfixturevalue("redis_url"))  # fmt: skip
        upgrade()
    with TestClient(create_app()) as client:
        yield client


def labeler(name: str) -> dict:
    return {"Authorization": f"Bearer {make_labeler(name)[1]}"}


def next_pair(api, who: dict, exclude: list[str] | None = None):
    query = f"?exclude={','.join(exclude)}" if exclude else ""
    return api.get(f"/api/v1/comparisons/next{query}", headers=who)


def vote(api, who: dict, handle, choice: str = "tie"):
    return api.post(f"/api/v1/comparisons/{handle}/vote", headers=who, json={"choice": choice})


def report(api, who: dict, handle):
    return api.post(f"/api/v1/comparisons/{handle}/report", headers=who, json={"side": "both", "reason": "broken"})


def kinds_of(handles: list[str]) -> dict[str, tuple[int, ComparisonKind]]:
    """What the server knows and the labeler must not: each handle's comparison id and kind."""
    with session_scope() as session:
        rows = session.execute(select(ServeHandle.token, Comparison.id, Comparison.kind)
                               .join(Comparison, Comparison.id == ServeHandle.comparison_id)
                               .where(ServeHandle.token.in_(handles))).all()  # fmt: skip
    return {token: (comparison_id, kind) for token, comparison_id, kind in rows}


def test_gold_evaluation_and_train_pairs_look_alike_to_a_labeler(api, monkeypatch):
    apply_settings(monkeypatch, gold_rate=0.5)
    random.seed(4)  # the serving draw (gold or not): this one serves the gold pair among the train pairs
    (gold,) = make_comparisons(1, seed=1)  # made first, as an install's gold pairs are: the lowest id
    with session_scope() as session:
        session.execute(update(Comparison).where(Comparison.id == gold)
                        .values(kind=ComparisonKind.gold, gold_answer="a"))  # fmt: skip
        evaluation = session.scalar(insert(Evaluation).values(checkpoint_id=1, baseline_id=1, pairs=1)
                                    .returning(Evaluation.id))  # fmt: skip
    (evaluated,) = make_comparisons(1, seed=2)
    with session_scope() as session:
        session.execute(update(Comparison).where(Comparison.id == evaluated)
                        .values(kind=ComparisonKind.eval, evaluation_id=evaluation))  # fmt: skip
    make_comparisons(20, seed=3)
    ann = labeler("ann")
    served, answers = [], []
    while (r := next_pair(api, ann)).status_code == 200:
        served.append(r)
        answers.append(vote(api, ann, r.json()["id"]))
    assert r.status_code == 204 and len(served) == 22
    bodies = [r.json() for r in served]
    handles = [b["id"] for b in bodies]
    for body, answer in zip(bodies, answers, strict=True):
        assert set(body) == {"id", "prompt", "left", "right", "campaign"} and isinstance(body["id"], str)
        assert body["campaign"] == "default"  # gold, evaluation and train pairs alike
        assert HANDLE.fullmatch(body["id"]) and not body["id"].isdigit()
        assert IMAGE_URL.fullmatch(body["left"]["url"]) and IMAGE_URL.fullmatch(body["right"]["url"])
        assert answer.status_code == 201 and answer.json()["comparison_id"] == body["id"]
    assert len({frozenset(r.headers) for r in served}) == 1  # the same headers, whatever the pair
    known = kinds_of(handles)
    assert {kind for _, kind in known.values()} == {ComparisonKind.gold, ComparisonKind.eval, ComparisonKind.train}
    # Handles carry no creation order: sorted by handle, the pairs are not in id order, either way.
    by_handle = [known[h][0] for h in sorted(handles)]
    assert by_handle not in (sorted(by_handle), sorted(by_handle, reverse=True))


def test_a_vote_by_handle_counts_once_however_often_the_pair_is_served(api):
    make_comparisons(2)
    ann = labeler("ann")
    handle = next_pair(api, ann).json()["id"]
    assert isinstance(handle, str) and HANDLE.fullmatch(handle)
    assert next_pair(api, ann).json()["id"] == handle  # served again (a page reload): the same handle
    other = next_pair(api, ann, exclude=[handle]).json()["id"]
    assert other != handle and HANDLE.fullmatch(other)
    first = api.post(f"/api/v1/comparisons/{handle}/vote", headers=ann, json={"choice": "left", "decision_ms": 900})
    again = vote(api, ann, handle, "right")
    assert first.status_code == 201 and again.status_code == 200
    assert again.json() == {**first.json(), "created": False} and again.json()["choice"] == "left"
    assert again.json()["comparison_id"] == handle
    assert next_pair(api, ann).json()["id"] == other  # the voted pair is not served again
    with session_scope() as session:
        assert session.scalar(select(func.count(Vote.id))) == 1


def test_another_labelers_handle_is_refused(api, monkeypatch):
    apply_settings(monkeypatch, votes_per_comparison=2)
    (cid,) = make_comparisons(1)
    ann, bea = labeler("ann"), labeler("bea")
    hers = next_pair(api, ann).json()["id"]
    refused = vote(api, bea, hers)
    assert refused.status_code == 409 and "not served to you" in refused.json()["detail"]
    assert report(api, bea, hers).status_code == 409
    assert vote(api, ann, hers).status_code == 201
    mine = next_pair(api, bea).json()["id"]  # the same pair, open for its second vote
    assert mine != hers  # a handle names the pair for one labeler: comparing handles tells nothing
    assert kinds_of([hers])[hers][0] == kinds_of([mine])[mine][0] == cid
    assert vote(api, bea, hers).status_code == 409  # even now that the pair is hers too
    assert vote(api, bea, mine).status_code == 201
    with session_scope() as session:
        assert session.scalar(select(func.count(Vote.id))) == 2


def test_row_ids_and_garbage_are_refused_with_a_4xx(api):
    (cid,) = make_comparisons(1)
    ann = labeler("ann")
    handle = next_pair(api, ann).json()["id"]
    for send in (vote, report):
        assert send(api, ann, cid).status_code == 422  # the row id of a pair she holds: not a handle
        unknown = send(api, ann, secrets.token_urlsafe(16))
        assert unknown.status_code == 404 and "no pair was served under this handle" in unknown.json()["detail"]
        for garbage in ("x", "%20", "a" * 21, "a" * 23, "a" * 500, handle[:-1] + "!", "%C3%A9" * 11, "..%2F..%2Fx"):
            answer = send(api, ann, garbage)
            assert 400 <= answer.status_code < 500, (garbage, answer.status_code)
    for bad in ("1;DROP", "a,,b", ",", "x" * 33, ",".join(["a"] * 101)):
        assert api.get(f"/api/v1/comparisons/next?exclude={bad}", headers=ann).status_code == 422
    # Unknown handles and the ids an older page may still hold name nothing: the pair on screen is served.
    assert next_pair(api, ann, exclude=[secrets.token_urlsafe(16), str(cid)]).json()["id"] == handle
    with session_scope() as session:
        assert session.scalar(select(func.count(Vote.id))) == 0


def test_a_report_answers_with_the_handle_and_admins_see_the_row_id(api):
    (cid,) = make_comparisons(1)
    ann = labeler("ann")
    admin = {"Authorization": f"Bearer {make_labeler('root', admin=True)[1]}"}
    handle = next_pair(api, ann).json()["id"]
    made = report(api, ann, handle)
    assert made.status_code == 201 and made.json()["comparison_id"] == handle and HANDLE.fullmatch(handle)
    assert report(api, ann, handle).json() == made.json()  # a repeat: the first report
    (listed,) = api.get("/api/v1/admin/reports", headers=admin).json()
    assert listed["comparison_id"] == cid and listed["id"] == made.json()["id"]


def test_refusals_name_no_row_id(api):
    """A refusal's reason is shown to the labeler: it must not name the pair's row id either."""
    (cid,) = make_comparisons(1)
    ann, bea = labeler("ann"), labeler("bea")
    handle = next_pair(api, ann).json()["id"]
    with session_scope() as session:
        session.execute(update(Comparison).values(state="retired"))  # a promotion retired the pool
    closed = vote(api, ann, handle)
    assert closed.status_code == 409 and "no longer open" in closed.json()["detail"]
    for refused in (closed, vote(api, bea, handle), report(api, bea, handle)):
        assert refused.status_code == 409 and not any(c.isdigit() for c in refused.json()["detail"]), cid
