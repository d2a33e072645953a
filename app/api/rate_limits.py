"""Per-token rate limits (the `limits` library): in Redis where the broker is Redis, so every API
process counts together; in this process's memory otherwise (the default's single API process).

The check runs in a worker thread with socket timeouts, so a Redis that stops answering costs one
request a bounded wait and never holds the event loop. A limit that cannot be checked (Redis down,
silent, or refusing the limiter's scripts) answers 503: the limit guards GPU time, the queue a
generation would join lives in the same Redis, and letting requests through would make every Redis
fault a way around the limit."""

from __future__ import annotations

import logging
import math
import time
from functools import lru_cache

from fastapi import HTTPException, status
from limits import RateLimitItem, parse, storage, strategies
from starlette.concurrency import run_in_threadpool

from core.settings import Settings

log = logging.getLogger(__name__)

REDIS_TIMEOUT_S = 1.0  # to connect, and for each answer; Redis answers a healthy check in about a millisecond


@lru_cache(maxsize=4)
def _limiter(storage_uri: str) -> strategies.MovingWindowRateLimiter:
    options = {} if storage_uri == "memory://" else {"socket_timeout": REDIS_TIMEOUT_S,
                                                      "socket_connect_timeout": REDIS_TIMEOUT_S}  # fmt: skip
    return strategies.MovingWindowRateLimiter(storage.storage_from_string(storage_uri, **options))


def storage_uri(settings: Settings) -> str:
    broker = settings.celery_broker_url
    return broker if broker.startswith(("redis://", "rediss://")) else "memory://"


def _retry_after(limiter: strategies.MovingWindowRateLimiter, item: RateLimitItem, scope: str, who: str) -> int | None:
    """None when this hit is within the limit, else the seconds until the window lets one more through."""
    if limiter.hit(item, scope, who):
        return None
    reset_at = limiter.get_window_stats(item, scope, who).reset_time
    return max(1, math.ceil(reset_at - time.time()))


async def enforce(settings: Settings, limit: str, scope: str, labeler_id: int) -> None:
    """429 with Retry-After once this labeler has spent `limit` (e.g. "30/minute") on `scope`; 503
    with Retry-After when the limit cannot be checked."""
    item: RateLimitItem = parse(limit)
    try:
        retry_after = await run_in_threadpool(_retry_after, _limiter(storage_uri(settings)), item, scope,
                                              str(labeler_id))  # fmt: skip
    except Exception as exc:  # its storage (Redis) is down, silent or failing: refuse rather than go unlimited
        log.warning("rate limit not checked: %s: %s", type(exc).__name__, exc)
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            f"the rate limit for {scope} cannot be checked (its Redis is unreachable); try again",
                            headers={"Retry-After": "2"}) from exc  # fmt: skip
    if retry_after is not None:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS,
                            f"rate limit of {limit} reached for {scope}; retry later",
                            headers={"Retry-After": str(retry_after)})  # fmt: skip
