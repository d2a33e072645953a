"""`dpoloop up`, the default: SQLite, a file broker, the embedded model, API + worker + beat."""

import signal

import httpx

from tests.helpers.stack import Service, dpoloop, free_port, service_env, wait_until


def test_up_serves_pairs_votes_and_generations_then_stops_on_ctrl_c(tmp_path, embedded_model):
    port = free_port()
    data_dir = tmp_path / "data"
    env = service_env(data_dir=data_dir, base_model=embedded_model, pool_target=3, pool_batch=3,
                      pool_interval_s=1, default_steps=10)  # fmt: skip
    up = Service("up", dpoloop("up", "--port", str(port)), env, tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: httpx.get(f"{base}/api/v1/health").status_code == 200, 60, "the API", proc=up)
        logins = (data_dir / "first-logins.txt").read_text().split()
        admin_token = logins[1].split("#token=")[1]
        labeler_token = logins[3].split("#token=")[1]
        assert "login" in up.log_tail() and f"{base}/" in up.log_tail()
        headers = {"Authorization": f"Bearer {labeler_token}"}

        def a_pair():
            r = httpx.get(f"{base}/api/v1/comparisons/next", headers=headers)
            return r.status_code == 200 and r.json()

        pair = wait_until(a_pair, 180, "a pair from the pool", every=1, proc=up)
        vote = httpx.post(f"{base}/api/v1/comparisons/{pair['id']}/vote", headers=headers, json={"choice": "left"})
        assert vote.status_code == 201
        assert httpx.get(f"{base}/api/v1/me", headers=headers).json()["votes"] == 1

        made = httpx.post(f"{base}/api/v1/generations?wait=true", timeout=90, json={"prompt": "a red circle"},
                          headers={"Authorization": f"Bearer {admin_token}"})  # fmt: skip
        assert made.status_code == 200 and made.json()["status"] == "done", made.text
        assert (data_dir / "dpoloop.sqlite3").exists()
        assert httpx.get(f"{base}/api/v1/health").json()["status"] == "ok"
    finally:
        code = up.stop(signal.SIGINT, timeout=30)
    assert code == 0, up.log_tail()
