"""Starting the processes: API, worker, beat, or all three (`dpoloop up`)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from core.settings import Settings

PYTHON = sys.executable


def api_command(settings: Settings, workers: int = 1) -> list[str]:
    return [PYTHON, "-m", "uvicorn", "app.api.main:create_app", "--factory", "--host", settings.host,
            "--port", str(settings.port), "--workers", str(workers), "--no-access-log"]  # fmt: skip


def share_metrics(settings: Settings) -> Path:
    """Prometheus' multi-process mode for the processes started from here: a fresh folder (values of
    processes that are gone must not be summed in), named before any process imports the client. It is
    this host's and this port's: a data dir shared by several API hosts must not hold it."""
    default = Path(tempfile.gettempdir()) / f"dpoloop-metrics-{settings.port}"
    folder = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or default)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    return folder


def worker_command(settings: Settings, queues: str, name: str, pool: str = "solo") -> list[str]:
    # solo: the model lives in the process that runs the tasks (CUDA does not survive fork).
    return [PYTHON, "-m", "celery", "-A", "worker.app:celery_app", "worker", "--pool", pool,
            "--concurrency", "1", "-Q", queues, "-n", name, "--loglevel", "INFO"]  # fmt: skip


def beat_command(settings: Settings) -> list[str]:
    return [PYTHON, "-m", "celery", "-A", "core.queue:celery_app", "beat", "--loglevel", "INFO",
            "-s", str(settings.data_dir / "celerybeat-schedule")]  # fmt: skip


def _env(name: str) -> dict[str, str]:
    """`dpoloop up`'s environment for one process: the trainer serves its metrics one port above the
    generate worker's (two workers on one host cannot share one)."""
    env = os.environ.copy()
    if name == "trainer" and int(env.get("DPOLOOP_WORKER_METRICS_PORT") or 0):
        env["DPOLOOP_WORKER_METRICS_PORT"] = str(int(env["DPOLOOP_WORKER_METRICS_PORT"]) + 1)
    return env


def run_all(commands: dict[str, list[str]], cwd: Path) -> int:
    """Run processes together; Ctrl-C (or one of them dying) stops them all."""
    children = {name: subprocess.Popen(cmd, cwd=cwd, env=_env(name)) for name, cmd in commands.items()}
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    code = 0
    while not stopping:
        for name, child in children.items():
            if child.poll() is not None:
                print(f"dpoloop: {name} exited with {child.returncode}; stopping the rest", file=sys.stderr)
                code, stopping = child.returncode or 1, True
                break
        time.sleep(0.2)
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for child in children.values():
        try:
            child.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
    return code
