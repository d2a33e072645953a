"""What an operator is told about, found by scanning the database (beat runs it every
DPOLOOP_ALERT_INTERVAL_S): rounds that finished or failed, candidates promoted or rejected, checkpoints
marked broken, the pool running dry, labelers the quality rules flag.

Scanning the rows instead of hooking every code path that ends a round (the worker, the API's
cancel, the stale-round sweep, ...) means nothing that changes state can forget to tell. Each
happening has a key (round:12:failed); an event is recorded once per key, with one webhook delivery
per configured URL, in the scan's own transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core.db.models import AlertEvent, AlertState, Candidacy, Checkpoint, Labeler, TrainingRound, WebhookDelivery
from core.db.session import session_scope
from core.repo.checkpoints import active_checkpoint_id
from core.repo.comparisons import ready_pool_count
from core.services import quality
from core.settings import Settings
from core.states import CandidateState, CheckpointStatus, RoundState

log = logging.getLogger(__name__)

SCAN = "scan"  # the AlertState row that remembers when the last scan looked
OVERLAP = timedelta(minutes=10)  # a row stamped before the last scan may have committed after it
POOL_EMPTY_GRACE = timedelta(minutes=5)  # a pool drained between two fills (a promotion's new checkpoint) is no news
POOL_EMPTY = "pool.empty"


@dataclass(frozen=True)
class Happening:
    key: str
    kind: str
    text: str
    payload: dict


def _round(row: TrainingRound, checkpoint: Checkpoint | None, candidacy: Candidacy | None) -> Happening:
    data = {"round_id": row.id, "trigger": row.trigger.value, "checkpoint_id": row.checkpoint_id,
            "finished_at": row.finished_at.isoformat() if row.finished_at else None}  # fmt: skip
    if row.state == RoundState.failed:
        return Happening(f"round:{row.id}:failed", "round.failed", f"Round {row.id} failed: {row.error}",
                         data | {"error": row.error})  # fmt: skip
    if checkpoint is None:
        outcome = "no checkpoint"
    elif checkpoint.status == CheckpointStatus.rejected:
        outcome = f"the gate rejected checkpoint {checkpoint.id}: {checkpoint.status_reason}"
    elif candidacy is not None:
        outcome = f"checkpoint {checkpoint.id} ({checkpoint.name}) is a candidate for the labelers' verdict"
    else:
        outcome = f"checkpoint {checkpoint.id} ({checkpoint.name}) passed the gate"
    return Happening(f"round:{row.id}:finished", "round.finished", f"Round {row.id} finished: {outcome}",
                     data | {"outcome": outcome, "metrics": row.metrics or {}})  # fmt: skip


def finished_rounds(session, since: datetime) -> list[Happening]:
    rows = session.execute(
        select(TrainingRound, Checkpoint, Candidacy)
        .outerjoin(Checkpoint, Checkpoint.id == TrainingRound.checkpoint_id)
        .outerjoin(Candidacy, Candidacy.checkpoint_id == TrainingRound.checkpoint_id)
        .where(TrainingRound.state.in_((RoundState.succeeded, RoundState.failed)), TrainingRound.finished_at >= since)
    ).all()  # fmt: skip
    return [_round(*row) for row in rows]


def decided_candidates(session, since: datetime) -> list[Happening]:
    rows = session.execute(
        select(Candidacy, Checkpoint).join(Checkpoint, Checkpoint.id == Candidacy.checkpoint_id).where(
            Candidacy.state.in_((CandidateState.promoted, CandidateState.rejected)), Candidacy.decided_at >= since)
    ).all()  # fmt: skip
    return [Happening(
        f"candidate:{c.id}:{c.state.value}", f"candidate.{c.state.value}",
        f"Checkpoint {cp.id} ({cp.name}) {c.state.value}: {c.reason} (W/L/T {c.wins}/{c.losses}/{c.ties})",
        {"candidacy_id": c.id, "checkpoint_id": cp.id, "serving_id": c.serving_id, "wins": c.wins,
         "losses": c.losses, "ties": c.ties, "reason": c.reason, "decided_by": c.decided_by},
    ) for c, cp in rows]  # fmt: skip


def broken_checkpoints(session, now: datetime) -> list[Happening]:
    """Each time a checkpoint is marked broken (an admin may clear the mark, and it may break again)."""
    rows = session.scalars(select(Checkpoint).where(Checkpoint.status == CheckpointStatus.broken))
    broken = {c.id: c for c in rows}
    found = []
    for checkpoint_id, since in _episodes(session, "checkpoint", broken, now):
        c = broken[checkpoint_id]
        found.append(Happening(f"checkpoint:{c.id}:broken:{since.isoformat()}", "checkpoint.broken",
                               f"Checkpoint {c.id} ({c.name}) is broken and will not serve: {c.status_reason}",
                               {"checkpoint_id": c.id, "reason": c.status_reason}))  # fmt: skip
    return found


def _episodes(session, kind: str, now_holding: Collection[int], now: datetime) -> list[tuple[int, datetime]]:
    """Of the ids a condition holds for now (a broken checkpoint, a flagged labeler), those it began for
    since the last scan, with when; ids it no longer holds for are forgotten, so a new episode tells again."""
    began = []
    for i in now_holding:
        change = _condition(session, f"{kind}:{i}", True, now, timedelta(0))
        if change:
            began.append((i, change[1]))
    known = {s.name for s in session.scalars(select(AlertState).where(AlertState.name.like(f"{kind}:%")))}
    for name in known - {f"{kind}:{i}" for i in now_holding}:
        _condition(session, name, False, now, timedelta(0))  # cleared (an admin's word, or the rules): no news
    return began


def _condition(session, name: str, holds: bool, now: datetime, grace: timedelta) -> tuple[str, datetime] | None:
    """Track a condition that comes and goes; "fired" or "cleared" (with when it began) on a change."""
    state = session.get(AlertState, name)
    if holds and state is None:
        state = AlertState(name=name, firing=False, since=now)
        session.add(state)
    if holds and not state.firing and now - state.since >= grace:
        state.firing = True
        return "fired", state.since
    if not holds and state is not None:
        session.delete(state)
        return ("cleared", state.since) if state.firing else None
    return None


def conditions(session, settings: Settings, now: datetime) -> list[Happening]:
    found = []
    serving = active_checkpoint_id(session)
    ready = ready_pool_count(session, serving)
    change = _condition(session, POOL_EMPTY, ready == 0 and settings.pool_target > 0, now, POOL_EMPTY_GRACE)
    if change and change[0] == "fired":
        since = change[1].isoformat()
        text = f"The labeling pool of checkpoint {serving} is empty: labelers wait (is a generate worker alive?)"
        found.append(Happening(f"pool.empty:{since}", "pool.empty", text, {"checkpoint_id": serving, "since": since}))
    elif change:
        found.append(Happening(f"pool.refilled:{change[1].isoformat()}", "pool.refilled",
                               f"The labeling pool has pairs again ({ready} ready)", {"ready": ready}))  # fmt: skip
    flagged = quality.flagged(session, settings)
    for labeler_id, since in _episodes(session, "labeler", flagged, now):
        name, reasons = session.get(Labeler, labeler_id).name, flagged[labeler_id]
        found.append(Happening(f"labeler:{labeler_id}:flagged:{since.isoformat()}", "labeler.flagged",
                               f"Labeler {name} ({labeler_id}) is flagged; their votes no longer train: "
                               f"{'; '.join(reasons)}",
                               {"labeler_id": labeler_id, "name": name, "reasons": reasons}))  # fmt: skip
    return found


def scan(settings: Settings) -> list[int]:
    """Record what happened since the last scan; the ids of the new events. The first scan of an install
    records what it finds as history, with no deliveries: turning webhooks on does not replay the past."""
    now = datetime.now(UTC)
    try:
        with session_scope() as session:
            mark = session.get(AlertState, SCAN, with_for_update=True)  # concurrent scans queue up on Postgres
            first = mark is None
            if first:
                mark = AlertState(name=SCAN, firing=False, since=now)
                session.add(mark)
            since = mark.since - OVERLAP
            found = [*finished_rounds(session, since), *decided_candidates(session, since),
                     *broken_checkpoints(session, now), *conditions(session, settings, now)]  # fmt: skip
            seen = set(session.scalars(select(AlertEvent.key).where(AlertEvent.key.in_([h.key for h in found]))))
            events = [AlertEvent(key=h.key, kind=h.kind, text=h.text, payload=h.payload)
                      for h in found if h.key not in seen]  # fmt: skip
            session.add_all(events)
            session.flush()
            if not first:
                session.add_all(WebhookDelivery(event_id=e.id, url=url, next_attempt_at=now)
                                for e in events for url in settings.webhook_targets)  # fmt: skip
            mark.since = now
            return [e.id for e in events]
    except IntegrityError:  # another scan recorded the same happening first: it is told once either way
        log.info("alert scan: a concurrent scan got there first")
        return []


def recent(limit: int = 50) -> list[dict]:
    """The newest events with their deliveries, for the admin API."""
    with session_scope() as session:
        events = session.scalars(select(AlertEvent).order_by(AlertEvent.id.desc()).limit(limit)).all()
        deliveries: dict[int, list[dict]] = {}
        for d in session.scalars(select(WebhookDelivery).where(WebhookDelivery.event_id.in_([e.id for e in events]))):
            deliveries.setdefault(d.event_id, []).append(
                {"url": d.url, "state": d.state.value, "attempts": d.attempts, "last_error": d.last_error,
                 "next_attempt_at": d.next_attempt_at, "delivered_at": d.delivered_at})  # fmt: skip
        return [{"id": e.id, "kind": e.kind, "text": e.text, "payload": e.payload, "created_at": e.created_at,
                 "deliveries": deliveries.get(e.id, [])} for e in events]  # fmt: skip
