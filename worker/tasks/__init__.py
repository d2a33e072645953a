"""Celery tasks. Each module imports torch lazily, so the Celery app itself stays light."""
