"""Prometheus instruments that a process observes itself (request latency, seconds per image, task
durations, GPU memory), and their exposition summed over the processes of one server.

Several API processes (`dpoloop api --workers N`) or a prefork worker share one PROMETHEUS_MULTIPROC_DIR,
set before the processes start (the CLI does it): prometheus-client then keeps each process's values
in files there and `process_registry` sums them, as the library's multi-process mode prescribes.
What the loop's database says (votes, pool, rounds) is not kept here: core/services/loop_metrics.py.
"""

from __future__ import annotations

import os

from prometheus_client import REGISTRY, CollectorRegistry, Gauge, Histogram, multiprocess

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

REQUEST_SECONDS = Histogram(
    "dpoloop_http_request_duration_seconds", "API request latency by route template and status class.",
    ["method", "route", "status"], buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)  # fmt: skip
GENERATION_SECONDS = Histogram(
    "dpoloop_generation_seconds", "Worker seconds per generated image (a batch's time over its images).",
    ["purpose"], buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 40, 80, 160),
)  # fmt: skip
TASK_SECONDS = Histogram(
    "dpoloop_task_duration_seconds", "Celery task durations by task name and outcome.",
    ["task", "outcome"], buckets=(0.01, 0.1, 0.5, 1, 5, 15, 60, 300, 1800, 7200, 21600),
)  # fmt: skip
GPU_ALLOCATED = Gauge("dpoloop_gpu_memory_allocated_bytes", "Accelerator memory held by tensors, per device.",
                      ["device"], multiprocess_mode="livesum")  # fmt: skip
GPU_RESERVED = Gauge("dpoloop_gpu_memory_reserved_bytes", "Accelerator memory reserved by the caching allocator.",
                     ["device"], multiprocess_mode="livesum")  # fmt: skip


def multiprocess_mode() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


def process_registry() -> CollectorRegistry:
    """This process's instruments, or every process's summed in multi-process mode."""
    if not multiprocess_mode():
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


def status_class(code: int) -> str:
    return f"{code // 100}xx"
