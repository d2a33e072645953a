"""`dpoloop up`, the default: SQLite, a file broker, the embedded model, API + worker + beat."""

import signal

import httpx
import pytest

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
        printed = up.log_path.read_text()  # the whole log: the workers' banners can push the links out of a tail
        assert "dpoloop: login" in printed and f"{base}/" in printed
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
        admin = {"Authorization": f"Bearer {admin_token}"}
        assert httpx.get(f"{base}/api/v1/admin/health", headers=admin).json()["status"] == "ok"
    finally:
        code = up.stop(signal.SIGINT, timeout=30)
    assert code == 0, up.log_tail()


@pytest.mark.slow
def test_the_default_starts_every_time_and_loses_no_task(tmp_path, embedded_model):
    """Eight starts and stops in a row of `dpoloop up` on its file broker: every start gets both
    workers up, a generation through the broker, and a clean exit on Ctrl-C (the default once died
    on start when a worker read a message file that was still being written). Eight, not the twenty
    it once was: each start takes about 23 s of CI, and the fix has held in every twenty-start CI run since."""
    data_dir = tmp_path / "data"
    for start in range(8):
        port = free_port()
        env = service_env(data_dir=data_dir, base_model=embedded_model, pool_target=0, round_schedule="false",
                          default_steps=4)  # fmt: skip
        up = Service(f"up-{start}", dpoloop("up", "--port", str(port)), env, tmp_path)
        base = f"http://127.0.0.1:{port}"
        try:

            def both_workers_alive(base=base):
                logins = data_dir / "first-logins.txt"
                if not logins.exists():
                    return False
                admin = {"Authorization": f"Bearer {logins.read_text().split()[1].split('#token=')[1]}"}
                workers = httpx.get(f"{base}/api/v1/admin/health", headers=admin).json()["workers"]
                return {w["name"].split("@")[0] for w in workers if w["alive"]} >= {"generate", "train"}

            wait_until(both_workers_alive, 90, f"both workers (start {start})", every=0.5, proc=up)
            admin_token = (data_dir / "first-logins.txt").read_text().split()[1].split("#token=")[1]
            made = httpx.post(f"{base}/api/v1/generations?wait=true", timeout=60, json={"prompt": "a red circle"},
                              headers={"Authorization": f"Bearer {admin_token}"})  # fmt: skip
            assert made.status_code == 200 and made.json()["status"] == "done", (start, made.text)
        finally:
            code = up.stop(signal.SIGINT, timeout=30)
        assert code == 0, up.log_tail()
        assert "JSONDecodeError" not in up.log_path.read_text(), up.log_tail()
