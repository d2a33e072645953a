"""The labeling loop over REST, on Postgres."""

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from core.db.models import Vote
from core.db.session import session_scope
from tests.api.conftest import auth
from tests.helpers.data import make_comparisons, pair_of, serve


def test_next_comparison_reveals_nothing_but_prompt_and_images(client, alice):
    make_comparisons(1)
    body = client.get("/api/v1/comparisons/next", headers=auth(alice)).json()
    assert set(body) == {"id", "campaign", "prompt", "left", "right"} and body["campaign"] == "default"
    assert set(body["left"]) == {"url"} and body["left"]["url"] != body["right"]["url"]
    for side in ("left", "right"):
        image = client.get(body[side]["url"])
        assert image.status_code == 200 and image.content[:4] == b"\x89PNG"


def test_empty_pool_is_204(client, alice):
    assert client.get("/api/v1/comparisons/next", headers=auth(alice)).status_code == 204


def test_two_labelers_get_different_pairs_and_nobody_sees_a_pair_twice(client, alice, bob):
    make_comparisons(3)
    a = client.get("/api/v1/comparisons/next", headers=auth(alice)).json()
    b = client.get("/api/v1/comparisons/next", headers=auth(bob)).json()
    assert a["id"] != b["id"]  # each is leased to the one who got it
    assert (
        client.post(f"/api/v1/comparisons/{a['id']}/vote", headers=auth(alice), json={"choice": "left"}).status_code
        == 201
    )
    seen = {a["id"]}
    while (r := client.get("/api/v1/comparisons/next", headers=auth(alice))).status_code == 200:
        nxt = r.json()
        assert nxt["id"] not in seen
        seen.add(nxt["id"])
        client.post(f"/api/v1/comparisons/{nxt['id']}/vote", headers=auth(alice), json={"choice": "tie"})
    assert r.status_code == 204


def test_exclude_skips_the_pair_on_screen(client, alice):
    first, second = make_comparisons(2)
    shown = client.get("/api/v1/comparisons/next", headers=auth(alice)).json()["id"]
    # Asking again without exclude returns the leased pair; with exclude (its handle) the other one.
    assert client.get("/api/v1/comparisons/next", headers=auth(alice)).json()["id"] == shown
    other = client.get(f"/api/v1/comparisons/next?exclude={shown}", headers=auth(alice)).json()["id"]
    assert {pair_of(shown), pair_of(other)} == {first, second}


def test_a_repeated_vote_returns_the_first_and_writes_nothing(client, alice):
    (cid,) = make_comparisons(1)
    handle = serve(cid, int(alice["id"]))
    first = client.post(
        f"/api/v1/comparisons/{handle}/vote", headers=auth(alice), json={"choice": "left", "decision_ms": 900}
    )
    again = client.post(f"/api/v1/comparisons/{handle}/vote", headers=auth(alice), json={"choice": "right"})
    assert first.status_code == 201 and again.status_code == 200
    assert again.json() == {**first.json(), "created": False}
    assert again.json()["choice"] == "left"
    with session_scope() as session:
        assert session.scalar(select(func.count(Vote.id))) == 1


def test_concurrent_repeats_store_exactly_one_vote(client, alice):
    (cid,) = make_comparisons(1)
    handle = serve(cid, int(alice["id"]))

    def post(choice):
        return vote(client, handle, alice, choice).status_code

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(post, ["left", "right"] * 8))
    assert sorted(set(codes)) in ([200, 201], [201])
    assert codes.count(201) == 1
    with session_scope() as session:
        assert session.scalar(select(func.count(Vote.id))) == 1


def test_left_and_right_map_to_the_generation_the_labeler_saw(client, alice):
    (cid,) = make_comparisons(1)
    shown = client.get("/api/v1/comparisons/next", headers=auth(alice)).json()
    client.post(f"/api/v1/comparisons/{shown['id']}/vote", headers=auth(alice), json={"choice": "right"})
    with session_scope() as session:
        vote = session.scalars(select(Vote)).one()
        from core.db.models import Comparison, Generation

        right_public = shown["right"]["url"].split("?")[0].rsplit("/", 1)[1].removesuffix(".png")
        winner = session.get(Generation, vote.winner_generation_id)
        assert winner.public_id == right_public
        comparison = session.get(Comparison, cid)
        assert comparison.vote_count == 1 and comparison.state.value == "done"


def test_a_vote_on_a_pair_not_served_to_the_voter_is_409(client, alice, bob):
    (cid,) = make_comparisons(1)
    handle = client.get("/api/v1/comparisons/next", headers=auth(bob)).json()["id"]
    assert pair_of(handle) == cid
    r = client.post(f"/api/v1/comparisons/{handle}/vote", headers=auth(alice), json={"choice": "left"})
    assert r.status_code == 409 and "not served to you" in r.json()["detail"]
    assert vote(client, handle, bob, "left").status_code == 201
    with session_scope() as session:
        assert session.scalar(select(func.count(Vote.id))) == 1


def test_vote_counter(client, alice):
    ids = make_comparisons(3)
    for cid in ids[:2]:
        handle = serve(cid, int(alice["id"]))
        client.post(f"/api/v1/comparisons/{handle}/vote", headers=auth(alice), json={"choice": "skip"})
    me = client.get("/api/v1/me", headers=auth(alice)).json()
    assert me["name"] == "alice" and me["votes"] == 2 and me["role"] == "labeler"


def test_a_vote_releases_only_the_voters_own_lease(client, alice, bob, monkeypatch):
    from core.db.models import Comparison
    from tests.conftest import apply_settings

    apply_settings(monkeypatch, votes_per_comparison=2)
    (cid,) = make_comparisons(1)
    handle = client.get("/api/v1/comparisons/next", headers=auth(alice)).json()["id"]
    assert pair_of(handle) == cid  # alice holds it
    refused = client.post(f"/api/v1/comparisons/{handle}/vote", headers=auth(bob), json={"choice": "left"})
    assert refused.status_code == 409  # bob was not shown it
    assert vote(client, handle, alice, "left").status_code == 201
    with session_scope() as session:
        comparison = session.get(Comparison, cid)
        assert comparison.leased_by is None and comparison.vote_count == 1  # alice's lease went with her vote
    assert pair_of(client.get("/api/v1/comparisons/next", headers=auth(bob)).json()["id"]) == cid  # open again


def vote(client, handle: str, labeler: dict, choice: str):
    return client.post(f"/api/v1/comparisons/{handle}/vote", headers=auth(labeler), json={"choice": choice})
