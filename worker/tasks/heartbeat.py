"""Worker liveness through the database (file and SQLite brokers have no broadcast to ping).

When a worker is ready it starts a thread that loads the model once (so the first pair is not
slowed by loading) and then writes a heartbeat row every few seconds; a generating worker also
starts the promotion watcher (hot swap).
"""

from __future__ import annotations

import logging
import threading

from celery.signals import worker_ready, worker_shutdown

from core.queue import GENERATE_QUEUE
from core.services import workers
from worker.metrics import observe_gpu_memory
from worker.serving import model_server, watch_promotions

HEARTBEAT_S = 5.0
log = logging.getLogger(__name__)
_stop = threading.Event()


def _loop(name: str, queues: str) -> None:
    if GENERATE_QUEUE in queues.split(","):  # a train-only worker holds no serving model
        try:
            model_server().warm()
        except Exception:
            log.exception("could not load the model")
        threading.Thread(
            target=watch_promotions, args=(model_server(), _stop), name="dpoloop-swap", daemon=True
        ).start()
    while not _stop.is_set():
        try:
            workers.beat(name, queues, model_server().checkpoint_id)
            observe_gpu_memory()
        except Exception:
            log.exception("heartbeat failed")
        _stop.wait(HEARTBEAT_S)


@worker_ready.connect
def _start(sender=None, **_):
    queues = ",".join(sorted(q.name for q in sender.app.amqp.queues.consume_from.values())) if sender else ""
    name = sender.hostname if sender else "worker"
    threading.Thread(target=_loop, args=(name, queues), name="dpoloop-heartbeat", daemon=True).start()


@worker_shutdown.connect
def _stop_beating(sender=None, **_):
    _stop.set()
    if sender is not None:
        workers.forget(sender.hostname)
