"""Task: import a preference set (worker/imports/run.py) on the train worker, which has the VAE."""

from __future__ import annotations

from core.queue import IMPORT_SET, celery_app
from core.settings import get_settings
from worker.imports.run import run_import


@celery_app.task(name=IMPORT_SET)
def import_set(set_id: int) -> None:
    run_import(set_id, get_settings())
