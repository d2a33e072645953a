"""Alerts, on SQLite and Postgres: the scan tells each happening once (a failed round, a verdict, a broken
checkpoint, the pool running dry, a flagged labeler), the first scan replays no history; webhooks reach a
real local receiver signed, are retried with backoff while it fails, and are given up on a 4xx or after
the last attempt."""

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from core.db.models import AlertEvent, Candidacy, Checkpoint, TrainingRound, WebhookDelivery
from core.db.session import session_scope
from core.services import alerts, labeling, webhooks
from core.settings import get_settings
from core.states import CandidateState, CheckpointStatus, Choice, DeliveryState, RoundState
from tests.conftest import apply_settings
from tests.helpers.data import make_comparisons, make_labeler, serve
from tests.helpers.receiver import Receiver

SECRET = "test-secret"


@pytest.fixture(params=["sqlite", "postgres"])
def any_db(request):
    request.getfixturevalue("sqlite_db" if request.param == "sqlite" else "pg_settings")


def configure(monkeypatch, *urls: str, **more) -> None:
    apply_settings(monkeypatch, webhook_urls=",".join(urls), webhook_secret=SECRET, **more)


def kinds(ids: list[int]) -> list[str]:
    with session_scope() as session:
        return sorted(session.scalars(select(AlertEvent.kind).where(AlertEvent.id.in_(ids))))


def deliveries() -> list[WebhookDelivery]:
    with session_scope() as session:
        rows = session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()
        session.expunge_all()
        return rows


def make_all_due() -> None:
    with session_scope() as session:
        session.execute(update(WebhookDelivery).values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1)))


def test_each_happening_is_told_once_and_the_first_scan_replays_nothing(any_db, monkeypatch):
    configure(monkeypatch, "http://127.0.0.1:9/a", "http://127.0.0.1:9/b", quality_min_bias_votes=5)
    monkeypatch.setattr(alerts, "POOL_EMPTY_GRACE", timedelta(0))
    now = datetime.now(UTC)
    with session_scope() as session:
        session.add(TrainingRound(state=RoundState.failed, trigger="admin", error="old", finished_at=now))
    first = alerts.scan(get_settings())  # history: recorded, never posted
    assert kinds(first) == ["pool.empty", "round.failed"] and deliveries() == []
    assert alerts.scan(get_settings()) == []

    make_comparisons(6)  # the pool has pairs again
    with session_scope() as session:
        session.add(TrainingRound(state=RoundState.failed, trigger="schedule", error="out of memory",
                                  finished_at=datetime.now(UTC)))  # fmt: skip
        broken = Checkpoint(name="c2", kind="lora", path="x", status=CheckpointStatus.broken, status_reason="no file")
        promoted = Checkpoint(name="c3", kind="lora", path="y")
        session.add_all([broken, promoted])
        session.flush()
        session.add(Candidacy(checkpoint_id=promoted.id, serving_id=1, state=CandidateState.promoted, wins=30,
                              losses=10, ties=2, reason="the labelers found it better", decided_by="labelers",
                              decided_at=datetime.now(UTC)))  # fmt: skip
    clicker, _ = make_labeler("clicker")
    for comparison in make_comparisons(5, seed=3):
        serve(comparison, clicker)
        labeling.vote(comparison, clicker, Choice.left, 1500, get_settings())
    found = alerts.scan(get_settings())
    assert kinds(found) == ["candidate.promoted", "checkpoint.broken", "labeler.flagged", "pool.refilled",
                            "round.failed"]  # fmt: skip
    assert len(deliveries()) == 2 * len(found) and {d.state for d in deliveries()} == {DeliveryState.pending}
    assert alerts.scan(get_settings()) == []  # nothing new: nothing told twice
    texts = {e["kind"]: e["text"] for e in reversed(alerts.recent())}  # the newest of each kind
    assert "out of memory" in texts["round.failed"] and "no file" in texts["checkpoint.broken"]
    assert "clicker" in texts["labeler.flagged"] and "left" in texts["labeler.flagged"]
    assert "30/10/2" in texts["candidate.promoted"]


def test_webhooks_are_signed_retried_with_backoff_and_given_up(any_db, monkeypatch):
    flaky, refusing = Receiver([503, 200]), Receiver([400])
    try:
        configure(monkeypatch, flaky.url, refusing.url, "http://127.0.0.1:9/closed", webhook_max_attempts=2)
        alerts.scan(get_settings())
        with session_scope() as session:
            session.add(TrainingRound(state=RoundState.failed, trigger="admin", error="boom",
                                      finished_at=datetime.now(UTC)))  # fmt: skip
        assert kinds(alerts.scan(get_settings())) == ["round.failed"]

        report = webhooks.deliver_due(get_settings())
        by_url = {d.url: d for d in deliveries()}
        assert by_url[refusing.url].state == DeliveryState.failed and "HTTP 400" in by_url[refusing.url].last_error
        flaky_row = by_url[flaky.url]
        assert flaky_row.state == DeliveryState.pending and flaky_row.attempts == 1 and "503" in flaky_row.last_error
        wait = (flaky_row.next_attempt_at - datetime.now(UTC)).total_seconds()
        assert 0 < wait <= webhooks.FIRST_RETRY_S  # backoff, not at once
        assert len(report.retrying) == 2 and len(report.failed) == 1
        assert webhooks.deliver_due(get_settings()).delivered == []  # nothing due yet

        make_all_due()
        report = webhooks.deliver_due(get_settings())
        by_url = {d.url: d for d in deliveries()}
        assert by_url[flaky.url].state == DeliveryState.delivered and by_url[flaky.url].attempts == 2
        assert by_url["http://127.0.0.1:9/closed"].state == DeliveryState.failed  # its second and last attempt
        headers, body = flaky.received[-1]
        assert headers["X-Dpoloop-Signature"] == "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        sent = json.loads(body)
        assert sent["event"] == "round.failed" and "boom" in sent["text"] and sent["data"]["error"] == "boom"
        assert len(flaky.received) == 2 and len(refusing.received) == 1  # the 400 was not asked again
    finally:
        flaky.close()
        refusing.close()


def test_a_claimed_delivery_is_leased_to_its_run(any_db, monkeypatch):
    receiver = Receiver([200])
    try:
        configure(monkeypatch, receiver.url)
        alerts.scan(get_settings())
        with session_scope() as session:
            session.add(TrainingRound(state=RoundState.failed, trigger="admin", error="x",
                                      finished_at=datetime.now(UTC)))  # fmt: skip
        alerts.scan(get_settings())
        claims = webhooks.claim_due(get_settings())
        assert len(claims) == 1 and webhooks.claim_due(get_settings()) == []  # leased by the first run
    finally:
        receiver.close()
