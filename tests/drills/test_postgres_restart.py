"""Postgres restarts while 20 labelers vote through the real API process: clients that retry get
through, and no vote is lost or doubled (a vote is idempotent, so a retry is always safe)."""

from __future__ import annotations

import os
import subprocess
import threading
import time

import httpx
import pytest
from sqlalchemy import func, select

from core.db.models import Vote
from core.db.session import engine_for, session_scope
from core.repo.handles import holder
from tests.helpers.data import make_comparisons, make_labeler
from tests.helpers.stack import Service, dpoloop, free_port, service_env, wait_until

LABELERS, SECONDS = 20, 12


def restart_postgres() -> None:
    version, cluster = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True,
                                      check=True).stdout.split()[:2]  # fmt: skip
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, cluster, "restart"], check=True)


@pytest.mark.serial  # restarts the Postgres every test uses: run alone
@pytest.mark.slow
def test_votes_through_a_database_restart_are_neither_lost_nor_doubled(pg_settings, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("restarting the Postgres cluster needs root (CI runs as root)")
    make_comparisons(LABELERS * 25)
    logins = [make_labeler(f"labeler-{i}") for i in range(LABELERS)]
    port = free_port()
    env = service_env(database_url=pg_settings["database_url"], broker_url=pg_settings["broker_url"],
                      data_dir=pg_settings["data_dir"], port=port)  # fmt: skip
    api = Service("api", dpoloop("api"), env, tmp_path)
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: httpx.get(f"{base}/api/v1/health").status_code == 200, 30, "the API", proc=api)
    accepted: set[tuple[int, str]] = set()  # (labeler, handle) the API said it stored
    retries, errors, stop = [0], [], time.monotonic() + SECONDS

    def until_answered(call):
        while time.monotonic() < stop + 30:
            try:
                response = call()
                if response.status_code < 500:
                    return response
            except httpx.HTTPError:
                pass
            retries[0] += 1
            time.sleep(0.2)
        raise AssertionError("the API never answered again")

    def label(labeler_id: int, token: str) -> None:
        try:
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=10) as c:
                while time.monotonic() < stop:
                    pair = until_answered(lambda: c.get("/api/v1/comparisons/next"))
                    if pair.status_code == 204:
                        return
                    url = f"/api/v1/comparisons/{pair.json()['id']}/vote"
                    voted = until_answered(lambda url=url: c.post(url, json={"choice": "left"}))
                    if voted.status_code not in (200, 201):
                        raise AssertionError(voted.text)
                    accepted.add((labeler_id, pair.json()["id"]))
        except Exception as exc:  # a thread's failure must reach the test
            errors.append(repr(exc))

    threads = [threading.Thread(target=label, args=login) for login in logins]
    try:
        for t in threads:
            t.start()
        time.sleep(SECONDS / 3)
        restart_postgres()
        for t in threads:
            t.join(SECONDS + 60)
    finally:
        api.stop()
    engine_for(pg_settings["database_url"]).dispose()  # this process's connections died with the restart
    assert errors == [] and retries[0] > 0  # the restart was felt, and every client got through it
    with session_scope() as session:
        stored = {(v.labeler_id, v.comparison_id) for v in session.scalars(select(Vote))}
        assert session.scalar(select(func.count(Vote.id))) == len(stored)  # none doubled
        announced = {(labeler_id, holder(session, handle)[0]) for labeler_id, handle in accepted}
    assert stored == announced and len(announced) > LABELERS  # none lost, none unannounced
