"""What the API shows and to whom: security headers, no server paths for labelers, token rotation."""

from tests.api.conftest import auth


def test_every_answer_carries_the_security_headers(client, alice):
    for response in (client.get("/"), client.get("/api/v1/me", headers=auth(alice)), client.get("/api/v1/me"),
                     client.post("/api/v1/comparisons/1/vote", json={"choice": "left"})):  # fmt: skip
        headers = response.headers
        assert "frame-ancestors 'none'" in headers["content-security-policy"], response.url
        assert headers["x-content-type-options"] == "nosniff" and headers["referrer-policy"] == "no-referrer"
    assert "default-src 'self'" in client.get("/").headers["content-security-policy"]


def test_labelers_see_no_server_paths(client, alice, admin, tmp_path):
    from tests.api.test_evaluations_api import new_checkpoint

    new_checkpoint(tmp_path, "lora")
    as_labeler = client.get("/api/v1/checkpoints", headers=auth(alice)).json()
    as_admin = client.get("/api/v1/checkpoints", headers=admin).json()
    assert all(c["path"] is None for c in as_labeler)
    assert as_admin[1]["path"] == str(tmp_path / "lora")


def test_a_token_can_be_rotated_by_its_owner_or_an_admin(client, alice, admin):
    rotated = client.post("/api/v1/me/token", headers=auth(alice))
    assert rotated.status_code == 200 and rotated.json()["login_url"].endswith(rotated.json()["token"])
    assert client.get("/api/v1/me", headers=auth(alice)).status_code == 401  # the old one is dead
    new_headers = {"Authorization": f"Bearer {rotated.json()['token']}"}
    assert client.get("/api/v1/me", headers=new_headers).json()["name"] == "alice"
    again = client.post(f"/api/v1/admin/labelers/{alice['id']}/token", headers=admin)
    assert again.status_code == 200 and client.get("/api/v1/me", headers=new_headers).status_code == 401
    assert client.post("/api/v1/admin/labelers/999/token", headers=admin).status_code == 404


def test_images_are_served_only_through_fresh_signed_links(client, alice, monkeypatch):
    from core.services import media
    from tests.helpers.data import make_comparisons

    make_comparisons(1)
    url = client.get("/api/v1/comparisons/next", headers=auth(alice)).json()["left"]["url"]
    assert client.get(url).status_code == 200 and client.get(url).content[:4] == b"\x89PNG"
    path, query = url.split("?")
    assert client.get(path).status_code == 422  # no link at all
    tampered = query[:-1] + ("0" if query[-1] != "0" else "1")
    assert client.get(f"{path}?{tampered}").status_code == 404
    name = path.rsplit("/", 1)[1]
    expired = media.signed_query(name, ttl_s=-1)
    assert client.get(f"{path}?{expired}").status_code == 404
    assert client.get(f"/media/{'0' * 32}.png?{media.signed_query('0' * 32 + '.png')}").status_code == 404
