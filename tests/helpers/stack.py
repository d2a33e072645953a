"""Run dpoloop's real processes (API, Celery worker, beat, `dpoloop up`) as subprocesses of a test."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis(port: int, *config: str) -> subprocess.Popen:
    """A private, non-persistent redis-server on `port` (extra `config` arguments), once it answers."""
    import redis

    proc = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                             "--appendonly", "no", *config], stdout=subprocess.DEVNULL)  # fmt: skip
    wait_until(lambda: redis.Redis(port=port).ping(), 10, "a private redis")
    return proc


def service_env(**settings) -> dict[str, str]:
    """This environment without any DPOLOOP_* setting of the test process, plus the given ones."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DPOLOOP_") or k.startswith("DPOLOOP_TEST_")}
    env.update({f"DPOLOOP_{k.upper()}": str(v) for k, v in settings.items()})
    env.setdefault("DPOLOOP_TORCH_THREADS", "1")
    # Gold pairs are drawn at random among the others: stacks that test something else leave them
    # out, so their vote counts stay exact (tests/services/test_quality.py and bench/trust_crowd.py
    # test gold pairs).
    env.setdefault("DPOLOOP_GOLD_RATE", "0")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def wait_until(predicate: Callable[[], object], timeout: float, what: str, every: float = 0.25, proc=None):
    """Poll until predicate() is truthy; fail with the process log when it never is."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except Exception:  # the service may not be up yet
            value = None
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{what}: process exited with {proc.returncode}\n{proc.log_tail()}")
        time.sleep(every)
    tail = proc.log_tail() if proc is not None else ""
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{tail}")


class Service:
    """One subprocess with its output in a log file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            args, cwd=REPO_ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def poll(self):
        return self.proc.poll()

    @property
    def returncode(self):
        return self.proc.returncode

    def log_tail(self, chars: int = 4000) -> str:
        return f"--- {self.name} log ---\n" + self.log_path.read_text(errors="replace")[-chars:]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


def dpoloop(*args: str) -> list[str]:
    return [sys.executable, "-m", "cli.main", *args]


def stack_env(pg_settings, embedded_model, **settings) -> tuple[int, dict[str, str]]:
    """Seed the shipped prompts; a free port and the environment for services on this test's Postgres + Redis."""
    from core.db.session import session_scope
    from core.repo.prompts import seed_shipped_prompts

    with session_scope() as session:
        seed_shipped_prompts(session)
    port = free_port()
    env = service_env(database_url=pg_settings["database_url"], broker_url=pg_settings["broker_url"],
                      data_dir=pg_settings["data_dir"], base_model=embedded_model, port=port, **settings)  # fmt: skip
    return port, env


def generation_to_the_end(base: str, headers: dict, body: dict, timeout: float = 180, proc=None) -> dict:
    """POST a generation with ?wait=true and follow it until it is done or failed: a worker busy with the
    pool or an evaluation may take past the API's wait (202), which is not what these tests are about."""
    import httpx

    r = httpx.post(f"{base}/api/v1/generations?wait=true", headers=headers, json=body, timeout=120)
    assert r.status_code in (200, 202), r.text
    generation_id = r.json()["id"]

    def ended():
        found = httpx.get(f"{base}/api/v1/generations/{generation_id}", headers=headers).json()
        return found["status"] in ("done", "failed") and found

    return wait_until(ended, timeout, f"generation {generation_id} to end", every=0.5, proc=proc)
