"""A worker's own metrics (core/telemetry.py): served on DPOLOOP_WORKER_METRICS_PORT once the worker is
ready; task durations from Celery's signals; GPU memory refreshed by the heartbeat."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from celery.signals import task_postrun, task_prerun, worker_process_shutdown, worker_ready
from prometheus_client import multiprocess, start_http_server

from core.settings import get_settings
from core.telemetry import (
    GENERATION_SECONDS,
    GPU_ALLOCATED,
    GPU_RESERVED,
    TASK_SECONDS,
    multiprocess_mode,
    process_registry,
)

log = logging.getLogger(__name__)
_started: dict[str, float] = {}  # task id -> perf_counter at prerun


@contextmanager
def timing_images(purpose: str, images: int) -> Iterator[None]:
    """Observe a batch's seconds per image, once per image, when the batch succeeds."""
    started = time.perf_counter()
    yield
    per_image = (time.perf_counter() - started) / max(images, 1)
    child = GENERATION_SECONDS.labels(purpose=purpose)
    for _ in range(images):
        child.observe(per_image)


def observe_gpu_memory() -> None:
    import torch

    if not torch.cuda.is_available():
        return
    for index in range(torch.cuda.device_count()):
        device = f"cuda:{index}"
        GPU_ALLOCATED.labels(device=device).set(torch.cuda.memory_allocated(index))
        GPU_RESERVED.labels(device=device).set(torch.cuda.memory_reserved(index))


@task_prerun.connect
def _task_started(task_id=None, **_):
    _started[task_id] = time.perf_counter()


@task_postrun.connect
def _task_ended(task_id=None, task=None, state=None, **_):
    started = _started.pop(task_id, None)
    if started is not None and task is not None:
        TASK_SECONDS.labels(task=task.name, outcome=(state or "unknown").lower()).observe(time.perf_counter() - started)


@worker_ready.connect
def _serve(**_):
    port = get_settings().worker_metrics_port
    if port:
        try:
            start_http_server(port, registry=process_registry())
            log.info("metrics on port %s", port)
        except OSError as exc:  # the worker still works; the operator sees why nothing answers there
            log.error("cannot serve metrics on port %s: %s (another worker on this host has it?)", port, exc)


@worker_process_shutdown.connect
def _forget_child(pid=None, **_):
    if multiprocess_mode() and pid:
        multiprocess.mark_process_dead(pid)
