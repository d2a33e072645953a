"""The Celery application: queues `generate` and `train`, late acks, prefetch 1, JSON only.

Importing this module must stay cheap (the API imports it to send tasks): task modules import
torch only inside the functions that need it.
"""

from __future__ import annotations

from celery import Celery

from app.settings import Settings, get_settings

TASK_MODULES = [
    "worker.tasks.generate",
    "worker.tasks.pool",
    "worker.tasks.heartbeat",
    "worker.tasks.sweep",
    "worker.tasks.rounds",
]

# Names are the API between the service and the workers; app/ sends them with send_task.
GENERATE_IMAGE = "dpoloop.generate.image"
FILL_POOL = "dpoloop.pool.fill"
SWEEP = "dpoloop.generate.sweep"
TRAIN_ROUND = "dpoloop.train.round"
CHECK_ROUNDS = "dpoloop.rounds.check"  # on `generate`: it must run while the train worker is busy or dead


def broker_transport_options(settings: Settings) -> dict:
    if settings.celery_broker_url.startswith("filesystem"):
        queue = settings.broker_dir / "queue"
        processed = settings.broker_dir / "processed"
        control = settings.broker_dir / "control"  # exchange tables (default: ./control in the working dir)
        for path in (queue, processed, control):
            path.mkdir(parents=True, exist_ok=True)
        return {"data_folder_in": str(queue), "data_folder_out": str(queue), "processed_folder": str(processed),
                "control_folder": str(control)}  # fmt: skip
    # Redis redelivers a task still unacknowledged after this long: keep it above the longest round.
    return {"visibility_timeout": 6 * 3600}


def make_celery(settings: Settings | None = None) -> Celery:
    celery = Celery("dpoloop", include=TASK_MODULES)
    configure(celery, settings or get_settings())
    return celery


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
        task_default_queue="generate",
        task_routes={
            "dpoloop.generate.*": {"queue": "generate"},
            "dpoloop.pool.*": {"queue": "generate"},
            "dpoloop.rounds.*": {"queue": "generate"},
            "dpoloop.train.*": {"queue": "train"},
        },  # fmt: skip
        broker_transport_options=broker_transport_options(settings),
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        beat_schedule={
            "fill-pool": {
                "task": FILL_POOL,
                "schedule": settings.pool_interval_s,
                "options": {"expires": settings.pool_interval_s * 2},  # stale checks are dropped, not piled up
            },
            "sweep-stale-generations": {"task": SWEEP, "schedule": 60.0, "options": {"expires": 60.0}},
            "check-rounds": {
                "task": CHECK_ROUNDS,
                "schedule": settings.round_check_interval_s,
                "options": {"expires": settings.round_check_interval_s * 2},
            },
        },
    )
    if celery._pool is not None:  # connections made under the old settings must not be reused
        from kombu import pools

        pools.reset()
        celery._pool = None
        celery.amqp._producer_pool = None


celery_app = make_celery()
