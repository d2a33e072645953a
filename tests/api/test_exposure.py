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
