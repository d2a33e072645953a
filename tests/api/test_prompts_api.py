"""Admin prompts over REST: list with use counts, add, flag for evaluation, retire and restore."""

from sqlalchemy import select

from core.db.models import Comparison, Prompt
from core.db.session import session_scope
from core.states import ComparisonState
from tests.api.conftest import auth
from tests.helpers.data import make_comparisons

URL = "/api/v1/admin/prompts"


def test_prompts_are_listed_with_use_counts_and_can_be_flagged_and_retired(client, admin, alice):
    assert client.post(URL, headers=admin, json={"prompts": ["a red circle", "a blue square"]}).status_code == 201
    pair_ids = make_comparisons(2)
    with session_scope() as session:
        red = session.scalar(select(Prompt.id).where(Prompt.text == "a red circle"))
        for comparison_id in pair_ids:  # both pairs drawn from the red circle, one voted on twice
            session.get(Comparison, comparison_id).prompt_id = red
        session.get(Comparison, pair_ids[0]).vote_count = 2
    listed = {p["text"]: p for p in client.get(URL, headers=admin).json()}
    assert (listed["a red circle"]["pairs"], listed["a red circle"]["votes"]) == (2, 2)
    assert (listed["a blue square"]["pairs"], listed["a blue square"]["votes"]) == (0, 0)
    assert listed["a red circle"]["active"] and not listed["a red circle"]["for_eval"]

    flagged = client.patch(f"{URL}/{red}", headers=admin, json={"for_eval": True}).json()
    assert flagged["for_eval"] and flagged["active"] and flagged["pairs"] == 2
    retired = client.patch(f"{URL}/{red}", headers=admin, json={"active": False}).json()
    assert not retired["active"] and retired["votes"] == 2
    with session_scope() as session:  # its waiting pairs left the pool; the pairs themselves stay
        assert {session.get(Comparison, i).state for i in pair_ids} == {ComparisonState.retired}
    assert client.patch(f"{URL}/{red}", headers=admin, json={"active": True}).json()["active"]


def test_bad_prompt_edits_are_refused_with_a_reason(client, admin, alice):
    assert client.patch(f"{URL}/999", headers=admin, json={"active": False}).status_code == 404
    empty = client.patch(f"{URL}/1", headers=admin, json={})
    assert empty.status_code == 422 and "active" in empty.text
    assert client.patch(f"{URL}/1", headers=admin, json={"active": "maybe"}).status_code == 422
    assert client.get(URL, headers=auth(alice)).status_code == 403
    assert client.get(URL, headers=admin, params={"limit": 0}).status_code == 422
