"""Task: delete what the retention policy says is no longer needed (core/services/retention.py).
A kind of deletion that fails is recorded by the service; the admin overview lists it."""

from __future__ import annotations

import logging
from dataclasses import asdict

from core.queue import RETENTION, celery_app
from core.services import retention
from core.settings import get_settings

log = logging.getLogger(__name__)


@celery_app.task(name=RETENTION)
def apply_retention() -> dict:
    report = asdict(retention.apply(get_settings()))
    log.log(logging.ERROR if report["failures"] else logging.INFO, "retention: %s", report)
    return report
