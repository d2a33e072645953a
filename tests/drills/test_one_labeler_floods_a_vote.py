"""200 concurrent copies of one labeler's vote on one pair: one row."""

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from core.db.models import Vote
from core.db.session import session_scope
from tests.api.conftest import auth
from tests.helpers.data import make_comparisons, pair_of


def test_two_hundred_concurrent_votes_by_one_labeler_make_one_row(client, alice):
    (cid,) = make_comparisons(1)
    handle = client.get("/api/v1/comparisons/next", headers=auth(alice)).json()["id"]
    assert pair_of(handle) == cid

    def vote(i: int) -> int:
        body = {"choice": ("left", "right", "tie")[i % 3], "decision_ms": i}
        return client.post(f"/api/v1/comparisons/{handle}/vote", headers=auth(alice), json=body).status_code

    with ThreadPoolExecutor(32) as pool:
        codes = list(pool.map(vote, range(200)))
    assert codes.count(201) == 1 and codes.count(200) == 199
    with session_scope() as session:
        assert session.scalar(select(func.count(Vote.id))) == 1
