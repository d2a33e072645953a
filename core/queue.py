"""The Celery application as both processes see it: queues, routes, beat schedule and task names.

The API process sends tasks by name through `send`, the one seam between the database side and
the broker (tests replace the sender with `sending_to`). The worker process registers the task
bodies on this same app (worker/app.py). Importing this module builds the app and touches no disk:
the file broker makes its folders when a process first connects (core/file_broker.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from celery import Celery

from core import file_broker  # registers the default's dpoloopfs:// transport with kombu
from core.settings import Settings, get_settings

# Queues. Client requests (`generate`) can pile up; the pool's fills (`pool`) and the housekeeping
# that must keep running (`housekeeping`: lost rounds, the round schedule, abandoned generations) have
# queues of their own, which a generate worker consumes in turn with `generate` (kombu cycles through
# a worker's queues), so no backlog of client requests starves them. `train` runs rounds.
GENERATE_QUEUE = "generate"
POOL_QUEUE = "pool"
HOUSEKEEPING_QUEUE = "housekeeping"
TRAIN_QUEUE = "train"
GENERATE_WORKER_QUEUES = ",".join((GENERATE_QUEUE, POOL_QUEUE, HOUSEKEEPING_QUEUE))  # the model-serving worker
ALL_QUEUES = ",".join((GENERATE_WORKER_QUEUES, TRAIN_QUEUE))

# Task names are the API between the service and the workers.
GENERATE_IMAGE = "dpoloop.generate.image"
FILL_POOL = "dpoloop.pool.fill"
SWEEP = "dpoloop.generate.sweep"
TRAIN_ROUND = "dpoloop.train.round"
CHECK_ROUNDS = "dpoloop.rounds.check"
RETENTION = "dpoloop.housekeeping.retention"
RENDER_GRID = "dpoloop.generate.grid"
IMPORT_SET = "dpoloop.train.import"
REVIEW_CANDIDATE = "dpoloop.candidates.review"
TRAIN_REWARD = "dpoloop.train.reward"
CHECK_REWARD = "dpoloop.reward.check"
CHECK_ALERTS = "dpoloop.alerts.check"

TASK_ROUTES = {
    GENERATE_IMAGE: {"queue": GENERATE_QUEUE},
    RENDER_GRID: {"queue": GENERATE_QUEUE},  # a chunk per task: a client's request waits at most one
    FILL_POOL: {"queue": POOL_QUEUE},
    SWEEP: {"queue": HOUSEKEEPING_QUEUE},
    CHECK_ROUNDS: {"queue": HOUSEKEEPING_QUEUE},  # it must run while the train worker is busy or dead
    RETENTION: {"queue": HOUSEKEEPING_QUEUE},
    REVIEW_CANDIDATE: {"queue": HOUSEKEEPING_QUEUE},  # the backstop of the review after each vote
    TRAIN_ROUND: {"queue": TRAIN_QUEUE},
    IMPORT_SET: {"queue": TRAIN_QUEUE},  # VAE encoding: the train worker holds the model for it
    TRAIN_REWARD: {"queue": TRAIN_QUEUE},  # fitting the preference model must not slow client generations
    CHECK_REWARD: {"queue": HOUSEKEEPING_QUEUE},
    CHECK_ALERTS: {"queue": HOUSEKEEPING_QUEUE},  # an alert must go out while the train worker is busy or dead
}


def broker_transport_options(settings: Settings) -> dict:
    if settings.celery_broker_url.startswith((file_broker.SCHEME, "filesystem")):
        folders = settings.broker_folders
        return {"data_folder_in": str(folders["queue"]), "data_folder_out": str(folders["queue"]),
                "processed_folder": str(folders["processed"]), "control_folder": str(folders["control"])}  # fmt: skip
    # Redis redelivers a task still unacknowledged after this long: keep it above the longest round.
    return {"visibility_timeout": 6 * 3600}


def beat_schedule(settings: Settings) -> dict:
    return {
        "fill-pool": {
            "task": FILL_POOL,
            "schedule": settings.pool_interval_s,
            "options": {"expires": settings.pool_interval_s * 2},  # stale checks are dropped, not piled up
        },
        "sweep-stale-generations": {"task": SWEEP, "schedule": 60.0, "options": {"expires": 60.0}},
        "review-candidate": {"task": REVIEW_CANDIDATE, "schedule": 60.0, "options": {"expires": 60.0}},
        "check-reward": {
            "task": CHECK_REWARD,
            "schedule": settings.round_check_interval_s,
            "options": {"expires": settings.round_check_interval_s * 2},
        },
        "check-alerts": {
            "task": CHECK_ALERTS,
            "schedule": settings.alert_interval_s,
            "options": {"expires": settings.alert_interval_s * 2},
        },
        "retention": {"task": RETENTION, "schedule": 24 * 3600.0, "options": {"expires": 3600.0}},
        "check-rounds": {
            "task": CHECK_ROUNDS,
            "schedule": settings.round_check_interval_s,
            "options": {"expires": settings.round_check_interval_s * 2},
        },
    }


def configure(celery: Celery, settings: Settings) -> None:
    """(Re)apply settings; tests call this after changing DPOLOOP_* variables."""
    celery.conf.update(
        broker_url=settings.celery_broker_url,
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,  # results live in the database, the source of truth
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=GENERATE_QUEUE,
        task_routes=TASK_ROUTES,
        broker_transport_options=broker_transport_options(settings),
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        beat_schedule=beat_schedule(settings),
    )
    if celery._pool is not None:  # connections made under the old settings must not be reused
        from kombu import pools  # only after a first send: the API's start-up stays lean

        pools.reset()
        celery._pool = None
        celery.amqp._producer_pool = None


def make_celery(settings: Settings | None = None) -> Celery:
    celery = Celery("dpoloop")
    configure(celery, settings or get_settings())
    return celery


celery_app = make_celery()

# ---- the seam: every task the services send goes through here ---------------------------------
Sender = Callable[[str, list], None]


def _send_to_broker(name: str, args: list) -> None:
    celery_app.send_task(name, args=args)


_sender: Sender = _send_to_broker


class QueueUnavailable(RuntimeError):
    """The broker refused or could not take the task."""


def send(name: str, *args) -> None:
    """Send task `name` with `args`; QueueUnavailable when the broker cannot take it."""
    try:
        _sender(name, list(args))
    except Exception as exc:  # kombu and redis raise many kinds; callers need one
        raise QueueUnavailable(f"the task queue is unreachable: {type(exc).__name__}: {exc}") from exc


def queue_depths() -> dict[str, int | None]:
    """Messages waiting in each queue (None for all when the broker cannot be reached)."""
    names = ALL_QUEUES.split(",")
    try:
        with celery_app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            channel = conn.default_channel
            return {name: channel.queue_declare(queue=name).message_count for name in names}
    except Exception:  # the broker's outage is the answer
        return dict.fromkeys(names)


def broker_reachable() -> str:
    """'ok', or why the broker cannot be reached (for /health)."""
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return "ok"
    except Exception as exc:  # any failure is the answer here, not an error
        return f"unreachable: {type(exc).__name__}"


@contextmanager
def sending_to(sender: Sender) -> Iterator[None]:
    """Route every `send` to `sender` for a while (tests observe the tasks a service sends)."""
    global _sender
    previous, _sender = _sender, sender
    try:
        yield
    finally:
        _sender = previous
