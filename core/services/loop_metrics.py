"""The loop's state as numbers for /metrics, read from the database at scrape time.

Counts come from rows, not from counters a process keeps, so they are the same whichever API process
answers the scrape and survive restarts: votes, rounds and verdicts only ever grow, which is what
Prometheus' rate() and increase() expect of a counter. Pairs made are the newest comparison's id, not a
count of rows: retention deletes unvoted old pairs, and a count would fall.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sqlalchemy import func, select

from core.db.models import Candidacy, Checkpoint, Comparison, TrainingRound, Vote, VoteRetraction, WebhookDelivery
from core.db.session import session_scope
from core.queue import ALL_QUEUES, queue_depths
from core.repo.checkpoints import active_checkpoint_id
from core.repo.comparisons import ready_pool_count
from core.services import quality
from core.services.workers import workers_seen
from core.settings import Settings
from core.states import CandidateState, CheckpointStatus, Choice, RoundState

STREAK_LOOKBACK = 20  # newest finished rounds looked at for a run of failures


@dataclass
class LoopState:
    votes: dict[str, int]  # cast, by choice, every choice present: those taken back too, so it only grows
    votes_retracted: int  # taken back by their labelers (undo)
    pairs_made: int  # comparisons ever added to the pool (any kind): the newest id
    pool_ready: int
    pool_target: int
    queue_depths: dict[str, int | None]  # None: the broker is unreachable
    workers_alive: dict[str, int]  # by queue, every queue present
    rounds: dict[str, int]  # finished, by state
    rounds_active: int
    round_seconds: list[float]  # durations of finished rounds that ran
    unsuccessful_streak: int
    candidates: dict[str, int]  # decided, by verdict
    candidates_judging: int
    checkpoints: dict[str, int]  # by status, every status present
    labelers_flagged: int
    webhook_deliveries: dict[str, int] = field(default_factory=dict)


def _by(session, column, *where) -> dict[str, int]:
    query = select(column, func.count()).group_by(column)
    return {str(getattr(key, "value", key)): n for key, n in session.execute(query.where(*where)).all()}


def unsuccessful_streak(session) -> int:
    """How many of the newest finished rounds in a row failed or made a checkpoint that was turned down
    (by the gate or by the labelers' verdict); a cancelled round neither breaks nor extends the run."""
    rows = session.execute(
        select(TrainingRound.state, Checkpoint.status, Candidacy.state)
        .outerjoin(Checkpoint, Checkpoint.id == TrainingRound.checkpoint_id)
        .outerjoin(Candidacy, Candidacy.checkpoint_id == TrainingRound.checkpoint_id)
        .where(TrainingRound.state.in_((RoundState.succeeded, RoundState.failed)))
        .order_by(TrainingRound.finished_at.desc(), TrainingRound.id.desc()).limit(STREAK_LOOKBACK)
    ).all()  # fmt: skip
    streak = 0
    for state, status, verdict in rows:
        turned_down = status == CheckpointStatus.rejected or verdict == CandidateState.rejected
        if state == RoundState.succeeded and not turned_down:
            break
        streak += 1
    return streak


_last: tuple[float, str, LoopState] | None = None  # when, of which database, what
FRESH_S = 10.0  # scrapes (and several Prometheus replicas) within this reuse one read of the tables


def loop_state(settings: Settings) -> LoopState:
    """The loop's numbers, read again at most every FRESH_S seconds per process: each read counts every
    vote, and a scrape must stay far below Prometheus' timeout however long the history."""
    global _last
    if _last is not None and time.monotonic() - _last[0] < FRESH_S and _last[1] == settings.sqlalchemy_url:
        return _last[2]
    state = _read_state(settings)
    _last = (time.monotonic(), settings.sqlalchemy_url, state)
    return state


def _read_state(settings: Settings) -> LoopState:
    with session_scope() as session:
        recorded, retracted = _by(session, Vote.choice), _by(session, VoteRetraction.choice)
        votes = {c.value: recorded.get(c.value, 0) + retracted.get(c.value, 0) for c in Choice}
        pairs_made = session.scalar(select(func.max(Comparison.id))) or 0
        pool_ready = ready_pool_count(session, active_checkpoint_id(session))
        finished = (RoundState.succeeded, RoundState.failed, RoundState.cancelled)
        rounds = dict.fromkeys((s.value for s in finished), 0) | _by(
            session, TrainingRound.state, TrainingRound.state.in_(finished))
        active = TrainingRound.active_slot.isnot(None)
        rounds_active = session.scalar(select(func.count(TrainingRound.id)).where(active))
        spans = session.execute(select(TrainingRound.started_at, TrainingRound.finished_at).where(
            TrainingRound.state.in_(finished), TrainingRound.started_at.isnot(None),
            TrainingRound.finished_at.isnot(None))).all()  # fmt: skip
        decided = (CandidateState.promoted, CandidateState.rejected, CandidateState.undecided)
        candidates = dict.fromkeys((s.value for s in decided), 0) | _by(
            session, Candidacy.state, Candidacy.state.in_(decided))
        judging = session.scalar(select(func.count(Candidacy.id)).where(Candidacy.state == CandidateState.judging))
        checkpoints = dict.fromkeys((s.value for s in CheckpointStatus), 0) | _by(session, Checkpoint.status)
        streak = unsuccessful_streak(session)
        flagged = len(quality.flagged(session, settings))
        deliveries = _by(session, WebhookDelivery.state)
    alive: dict[str, int] = dict.fromkeys(ALL_QUEUES.split(","), 0)
    for worker in workers_seen():
        for queue in worker.queues.split(","):
            if worker.alive and queue in alive:
                alive[queue] += 1
    return LoopState(
        votes=votes, votes_retracted=sum(retracted.values()), pairs_made=pairs_made, pool_ready=pool_ready,
        pool_target=settings.pool_target,
        queue_depths=queue_depths(), workers_alive=alive, rounds=rounds, rounds_active=rounds_active,
        round_seconds=[(end - start).total_seconds() for start, end in spans], unsuccessful_streak=streak,
        candidates=candidates, candidates_judging=judging, checkpoints=checkpoints, labelers_flagged=flagged,
        webhook_deliveries={"pending": 0, "delivered": 0, "failed": 0} | deliveries,
    )  # fmt: skip
