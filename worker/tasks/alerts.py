"""Task: find what to alert on and post the webhooks that are due (core/services/alerts.py, webhooks.py)."""

from __future__ import annotations

from dataclasses import asdict

from core.queue import CHECK_ALERTS, celery_app
from core.services import alerts, webhooks
from core.settings import get_settings


@celery_app.task(name=CHECK_ALERTS)
def check_alerts() -> dict:
    settings = get_settings()
    return {"new_events": alerts.scan(settings)} | asdict(webhooks.deliver_due(settings))
