"""Per-token rate limits (the `limits` library): in Redis where the broker is Redis, so every API
process counts together; in this process's memory otherwise (the default's single API process)."""

from __future__ import annotations

import logging
import math
import time
from functools import lru_cache

from fastapi import HTTPException, status
from limits import RateLimitItem, parse, storage, strategies

from core.settings import Settings

log = logging.getLogger(__name__)


@lru_cache(maxsize=4)
def _limiter(storage_uri: str) -> strategies.MovingWindowRateLimiter:
    return strategies.MovingWindowRateLimiter(storage.storage_from_string(storage_uri))


def storage_uri(settings: Settings) -> str:
    broker = settings.celery_broker_url
    return broker if broker.startswith(("redis://", "rediss://")) else "memory://"


def enforce(settings: Settings, limit: str, scope: str, labeler_id: int) -> None:
    """429 with Retry-After once this labeler has spent `limit` (e.g. "30/minute") on `scope`."""
    item: RateLimitItem = parse(limit)
    limiter = _limiter(storage_uri(settings))
    try:
        if limiter.hit(item, scope, str(labeler_id)):
            return
    except Exception as exc:  # its storage (Redis) is down: let the request through to meet the real outage
        log.warning("rate limit not checked: %s: %s", type(exc).__name__, exc)
        return
    reset_at = limiter.get_window_stats(item, scope, str(labeler_id)).reset_time
    retry_after = max(1, math.ceil(reset_at - time.time()))
    raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, f"rate limit of {limit} reached for {scope}; retry later",
                        headers={"Retry-After": str(retry_after)})  # fmt: skip
