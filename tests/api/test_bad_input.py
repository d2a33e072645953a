"""Bad input gets a clear 4xx with a reason, never a 500."""

import pytest

from tests.api.conftest import auth
from tests.helpers.data import make_comparisons, serve


def reason(response) -> str:
    return str(response.json()["detail"])


def test_unknown_choice(client, alice):
    handle = serve(*make_comparisons(1), int(alice["id"]))
    r = client.post(f"/api/v1/comparisons/{handle}/vote", headers=auth(alice), json={"choice": "sideways"})
    assert r.status_code == 422 and "'left', 'right', 'tie', 'both_bad' or 'skip'" in reason(r)


@pytest.mark.parametrize("body", [{}, {"choice": "left", "decision_ms": -1}, {"choice": "left", "extra": 1}, []])
def test_malformed_vote_bodies(client, alice, body):
    handle = serve(*make_comparisons(1), int(alice["id"]))
    assert client.post(f"/api/v1/comparisons/{handle}/vote", headers=auth(alice), json=body).status_code == 422


def test_vote_on_a_missing_comparison(client, alice):
    r = client.post(f"/api/v1/comparisons/{'A' * 22}/vote", headers=auth(alice), json={"choice": "left"})
    assert r.status_code == 404 and "no pair was served under this handle" in reason(r)


def test_no_token_and_bad_tokens(client, alice):
    assert client.get("/api/v1/comparisons/next").status_code == 401
    r = client.get("/api/v1/comparisons/next", headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401 and "unknown or disabled" in reason(r)
    assert client.get("/api/v1/me", headers={"Authorization": "Basic abc"}).status_code == 401


def test_a_disabled_labelers_token_stops_working(client, admin, alice):
    assert (
        client.patch(f"/api/v1/admin/labelers/{alice['id']}", headers=admin, json={"active": False}).status_code == 200
    )
    assert client.get("/api/v1/me", headers=auth(alice)).status_code == 401


def test_labelers_cannot_use_admin_routes(client, alice):
    r = client.post("/api/v1/admin/labelers", headers=auth(alice), json={"name": "mallory", "admin": True})
    assert r.status_code == 403 and "admin" in reason(r)


def test_another_labelers_generation_is_not_found(client, alice, bob):
    created = client.post("/api/v1/generations", headers=auth(alice), json={"prompt": "a red circle"}).json()
    assert client.get(f"/api/v1/generations/{created['id']}", headers=auth(alice)).status_code == 200
    assert client.get(f"/api/v1/generations/{created['id']}", headers=auth(bob)).status_code == 404


@pytest.mark.parametrize(
    "body, fragment",
    [
        ({"prompt": "x" * 1001}, "at most 1000 characters"),
        ({"prompt": ""}, "at least 1 character"),
        ({"prompt": "a red circle", "num_inference_steps": 100000}, "less than or equal to 200"),
        ({"prompt": "a red circle", "width": 100000, "height": 100000}, "less than or equal to 2048"),
        ({"prompt": "a red circle", "width": 70}, "multiple of 8"),
        ({"prompt": "a red circle", "guidance_scale": 1e9}, "less than or equal to 30"),
        ({"prompt": "a red circle", "seed": -1}, "greater than or equal to 0"),
        ({"prompt": "a red circle", "checkpoint_id": 0}, "greater than or equal to 1"),
        ({"prompt": "a red circle", "sampler": "euler"}, "Extra inputs"),
    ],
)
def test_absurd_generation_requests(client, alice, body, fragment):
    r = client.post("/api/v1/generations", headers=auth(alice), json=body)
    assert r.status_code == 422 and fragment in reason(r)


def test_generation_for_an_unknown_checkpoint(client, admin):
    r = client.post("/api/v1/generations", headers=admin, json={"prompt": "a red circle", "checkpoint_id": 42})
    assert r.status_code == 422 and "checkpoint 42 does not exist" in reason(r)


def test_only_admins_pin_a_generation_to_a_checkpoint(client, alice):
    """A labeler who could render any checkpoint at any seed could recognise evaluation images."""
    r = client.post("/api/v1/generations", headers=auth(alice), json={"prompt": "a red circle", "checkpoint_id": 1})
    assert r.status_code == 403 and "only admins" in reason(r)


def test_malformed_exclude_list(client, alice):
    assert client.get("/api/v1/comparisons/next?exclude=1;DROP", headers=auth(alice)).status_code == 422


def test_admin_input_errors(client, admin):
    assert client.post("/api/v1/admin/labelers", headers=admin, json={"name": "carol"}).status_code == 201
    dup = client.post("/api/v1/admin/labelers", headers=admin, json={"name": "carol"})
    assert dup.status_code == 409 and "exists" in reason(dup)
    assert client.post("/api/v1/admin/labelers", headers=admin, json={"name": "bad name!"}).status_code == 422
    kept = client.post("/api/v1/admin/labelers", headers=admin, json={"name": "ai-pickscore"})
    assert kept.status_code == 422 and "kept for AI labelers" in reason(kept)  # `dpoloop ai-label`'s accounts
    blank = client.post("/api/v1/admin/prompts", headers=admin, json={"prompts": ["a red circle", "  "]})
    assert blank.status_code == 422 and "blank" in reason(blank)
    assert client.patch("/api/v1/admin/labelers/4242", headers=admin, json={"active": False}).status_code == 404


@pytest.mark.parametrize(
    "method, path",
    [
        ("post", "/api/v1/comparisons/2147483648/vote"),
        ("get", "/api/v1/generations/99999999999"),
    ],
)
def test_ids_beyond_the_database_range_are_4xx(client, alice, method, path):
    r = getattr(client, method)(path, headers=auth(alice), **({"json": {"choice": "left"}} if method == "post" else {}))
    assert r.status_code == 422


@pytest.mark.parametrize("escaped", ["a\\u0000b", "a \\ud800 b"])  # NUL; a lone surrogate (valid JSON)
def test_text_no_database_can_store_is_refused(client, alice, admin, escaped):
    json_headers = {"Content-Type": "application/json"}
    r = client.post("/api/v1/generations", headers=auth(alice) | json_headers, content=f'{{"prompt": "{escaped}"}}')
    assert r.status_code == 422
    r = client.post("/api/v1/admin/prompts", headers=admin | json_headers, content=f'{{"prompts": ["{escaped}"]}}')
    assert r.status_code == 422


def test_broker_down_is_503_and_leaves_no_row_waiting(client, alice, monkeypatch):
    from sqlalchemy import select

    from core.db.models import Generation
    from core.db.session import session_scope
    from tests.conftest import apply_settings

    def generations() -> list[str]:
        with session_scope() as session:
            return [g.status.value for g in session.scalars(select(Generation))]

    # A Redis broker down: its rate limit cannot be checked either, so the request stops there, before a row.
    apply_settings(monkeypatch, broker_url="redis://127.0.0.1:1/0")  # nothing listens there
    r = client.post("/api/v1/generations", headers=auth(alice), json={"prompt": "a red circle"})
    assert r.status_code == 503 and "unreachable" in reason(r) and r.headers["Retry-After"]
    assert generations() == []
    # A broker the limit does not live in (counted in this process): the row is made, the send fails, the row fails.
    apply_settings(monkeypatch, broker_url="amqp://guest:guest@127.0.0.1:1//")
    r = client.post("/api/v1/generations", headers=auth(alice), json={"prompt": "a red circle"})
    assert r.status_code == 503 and "unreachable" in reason(r)
    assert generations() == ["failed"]
