"""Posting alert events to the configured webhook URLs: signed JSON, retried with backoff, never in the
loop's way (beat's alert task posts what is due, a few seconds at most per run; a receiver that is
down costs its own deliveries retries, nothing else).

The body is JSON with a Slack-compatible `text`; `X-Dpoloop-Signature: sha256=<hex>` is the
HMAC-SHA256 of the exact body under DPOLOOP_WEBHOOK_SECRET (`signature` checks one).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select, update

from core.db.models import AlertEvent, WebhookDelivery
from core.db.session import session_scope
from core.settings import Settings
from core.states import DeliveryState

log = logging.getLogger(__name__)

FIRST_RETRY_S = 10.0  # then 20, 40, ... (capped): a receiver restarting is back before the third try
MAX_RETRY_S = 3600.0
LEASE = timedelta(seconds=60)  # a claimed delivery is not claimed again by another worker for this long
POST_TIMEOUT_S = 5.0
RUN_BUDGET_S = 15.0  # one run stops claiming after this long: the housekeeping queue has other work
RUN_LIMIT = 50


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def body(event: AlertEvent, settings: Settings) -> bytes:
    return json.dumps({
        "event": event.kind, "id": event.id, "created_at": event.created_at.isoformat(), "text": event.text,
        "data": event.payload, "install": settings.base_url,
    }, default=str).encode()  # fmt: skip


def retry_after(attempts: int) -> timedelta:
    return timedelta(seconds=min(FIRST_RETRY_S * 2 ** (attempts - 1), MAX_RETRY_S))


@dataclass
class Claim:
    delivery_id: int
    url: str
    kind: str
    body: bytes


@dataclass
class DeliveryReport:
    delivered: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


def claim_due(settings: Settings, limit: int = RUN_LIMIT) -> list[Claim]:
    """Due pending deliveries, each leased by moving its next attempt past the lease: two workers running
    the alert task at once never post the same delivery twice within a lease."""
    now = datetime.now(UTC)
    claims = []
    with session_scope() as session:
        due = session.execute(
            select(WebhookDelivery, AlertEvent).join(AlertEvent, AlertEvent.id == WebhookDelivery.event_id)
            .where(WebhookDelivery.state == DeliveryState.pending, WebhookDelivery.next_attempt_at <= now)
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(limit)
        ).all()  # fmt: skip
        for delivery, event in due:
            taken = session.execute(update(WebhookDelivery).where(
                WebhookDelivery.id == delivery.id, WebhookDelivery.next_attempt_at == delivery.next_attempt_at,
                WebhookDelivery.state == DeliveryState.pending).values(next_attempt_at=now + LEASE))  # fmt: skip
            if taken.rowcount == 1:
                claims.append(Claim(delivery.id, delivery.url, event.kind, body(event, settings)))
    return claims


def post(claim: Claim, settings: Settings, client: httpx.Client) -> str | None:
    """None when the receiver took it, else why not; ValueError when retrying cannot help (a 4xx)."""
    headers = {"Content-Type": "application/json", "User-Agent": "dpoloop-webhooks",
               "X-Dpoloop-Event": claim.kind, "X-Dpoloop-Delivery": str(claim.delivery_id),
               "X-Dpoloop-Signature": signature(settings.webhook_secret, claim.body)}  # fmt: skip
    try:
        answer = client.post(claim.url, content=claim.body, headers=headers)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"[:500]
    if answer.is_success:
        return None
    reason = f"HTTP {answer.status_code}: {answer.text[:200]}"
    if 400 <= answer.status_code < 500 and answer.status_code not in (408, 425, 429):
        raise ValueError(reason)  # the receiver refuses this request: the same one again would be refused too
    return reason


def record(delivery_id: int, problem: str | None, final: bool, settings: Settings) -> DeliveryState:
    now = datetime.now(UTC)
    with session_scope() as session:
        row = session.get(WebhookDelivery, delivery_id)
        row.attempts += 1
        if problem is None:
            row.state, row.delivered_at, row.last_error = DeliveryState.delivered, now, None
        elif final or row.attempts >= settings.webhook_max_attempts:
            row.state, row.last_error = DeliveryState.failed, problem
        else:
            row.next_attempt_at, row.last_error = now + retry_after(row.attempts), problem
        return row.state


def deliver_due(settings: Settings, budget_s: float = RUN_BUDGET_S) -> DeliveryReport:
    report = DeliveryReport()
    started = time.monotonic()
    claims = claim_due(settings)
    with httpx.Client(timeout=POST_TIMEOUT_S, follow_redirects=False) as client:
        for claim in claims:
            if time.monotonic() - started > budget_s:
                break  # the rest stay leased and come due again after the lease
            try:
                problem, final = post(claim, settings, client), False
            except ValueError as exc:
                problem, final = str(exc), True
            state = record(claim.delivery_id, problem, final, settings)
            if problem:
                log.warning("webhook %s to %s: %s", claim.delivery_id, claim.url, problem)
            {DeliveryState.delivered: report.delivered, DeliveryState.failed: report.failed,
             DeliveryState.pending: report.retrying}[state].append(claim.delivery_id)  # fmt: skip
    return report
