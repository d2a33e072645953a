"""The loop at a glance, for the admin console's first page: what serves, the pool, the votes, the
next round, the round running now, the workers and queues, and the last failures (rounds,
generations, broken checkpoints, housekeeping tasks such as retention). (How decisive the labelers'
votes were per pair selection strategy scans every vote: core/services/pairing_stats.py, its own
call, polled less often.)"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.db.models import (
    DEFAULT_CAMPAIGN_ID,
    Campaign,
    Checkpoint,
    Comparison,
    Deployment,
    Generation,
    HousekeepingFailure,
    RoundStep,
    TrainingRound,
    Vote,
)
from core.db.session import session_scope
from core.queue import queue_depths
from core.repo import candidacies
from core.repo import rounds as rounds_repo
from core.repo.checkpoints import active_checkpoint_id
from core.repo.comparisons import measuring, ready_pool_count
from core.services.candidates import Candidate
from core.services.workers import WorkerSeen, workers_seen
from core.settings import Settings
from core.states import CheckpointStatus, ComparisonKind, ComparisonState, GenerationStatus, RoundState
from core.verdict import VerdictRule

REFILL_WINDOW = timedelta(minutes=10)
FAILURES_SHOWN = 5


@dataclass(frozen=True)
class RunningRound:
    id: int
    state: str
    trigger: str
    step: int  # the last step it reported (0 before the first)
    steps: int | None  # of its config, where set
    metrics: dict  # the last step's


@dataclass(frozen=True)
class Failure:
    id: int
    error: str | None
    finished_at: datetime | None


@dataclass(frozen=True)
class BrokenCheckpoint:
    id: int
    name: str
    reason: str | None


@dataclass(frozen=True)
class CurrentCandidate(Candidate):
    """A candidate being judged now, for the admin's overview."""

    checkpoint_id: int
    name: str
    rule: VerdictRule
    campaign: str = "default"  # whose labelers judge it, against what serves that campaign


@dataclass
class Overview:
    """The loop at a glance (the admin console's first page)."""

    active_checkpoint_id: int
    active_since: datetime | None
    pool_ready: int  # train pairs waiting that nobody holds
    pool_target: int
    eval_ready: int
    refill_pairs_per_min: float  # train pairs added over the last ten minutes
    votes_last_hour: int
    votes_total: int
    decisive_since_last_round: int
    round_min_pairs: int
    schedule_on: bool
    next_scheduled_round_at: datetime | None  # the earliest a scheduled round may start
    running_round: RunningRound | None
    workers: list[WorkerSeen]
    queue_depths: dict[str, int | None]
    failed_rounds: list[Failure]
    failed_generations: list[Failure]
    broken_checkpoints: list[BrokenCheckpoint]
    failed_housekeeping: list[Failure]  # retention and the like; error: "<task>: <why>"
    candidate: CurrentCandidate | None = None  # default's checkpoint judged now, if any
    candidates: list[CurrentCandidate] = field(default_factory=list)  # every campaign's, default's first


def _current_candidates(session: Session, settings: Settings) -> dict[int, CurrentCandidate]:
    """Each campaign's candidate judged now, by campaign id (default's first)."""
    rule = VerdictRule.from_settings(settings)
    return {campaign_id: CurrentCandidate.of(judged, checkpoint_id=judged.checkpoint_id, rule=rule,
                                             name=session.get(Checkpoint, judged.checkpoint_id).name,
                                             campaign=session.get(Campaign, campaign_id).name)
            for campaign_id, judged in candidacies.judging_campaigns(session).items()}  # fmt: skip


def overview(settings: Settings) -> Overview:
    now = datetime.now(UTC)
    with session_scope() as session:
        active = active_checkpoint_id(session)
        since = session.scalar(select(func.max(Deployment.promoted_at)).where(
            Deployment.checkpoint_id == active, Deployment.campaign_id == DEFAULT_CAMPAIGN_ID))  # fmt: skip
        ready = select(func.count(Comparison.id)).where(Comparison.state == ComparisonState.ready)
        pool_ready = ready_pool_count(session, active)  # the default campaign's
        # Default's pairs that rate checkpoints: a candidate's or a promotion's evaluation, arena matches.
        eval_ready = session.scalar(ready.where(measuring(DEFAULT_CAMPAIGN_ID, active)))
        refilled = session.scalar(select(func.count(Comparison.id)).where(
            Comparison.kind == ComparisonKind.train, Comparison.created_at >= now - REFILL_WINDOW))  # fmt: skip
        votes_total = session.scalar(select(func.count(Vote.id)))
        votes_hour = session.scalar(select(func.count(Vote.id)).where(Vote.created_at >= now - timedelta(hours=1)))
        last_scheduled = rounds_repo.last_scheduled_start(session)
        running = rounds_repo.running_round(session)
        running_out = None
        if running is not None:
            last = session.scalar(select(RoundStep).where(RoundStep.round_id == running.id)
                                  .order_by(RoundStep.step.desc()).limit(1))  # fmt: skip
            running_out = RunningRound(running.id, running.state.value, running.trigger.value,
                                       last.step if last else 0, (running.config or {}).get("steps"),
                                       last.metrics if last else {})  # fmt: skip
        failed_rounds = [Failure(r.id, r.error, r.finished_at) for r in session.scalars(
            select(TrainingRound).where(TrainingRound.state == RoundState.failed)
            .order_by(TrainingRound.id.desc()).limit(FAILURES_SHOWN))]  # fmt: skip
        failed_generations = [Failure(g.id, g.error, g.finished_at) for g in session.scalars(
            select(Generation).where(Generation.status == GenerationStatus.failed)
            .order_by(Generation.id.desc()).limit(FAILURES_SHOWN))]  # fmt: skip
        broken = [BrokenCheckpoint(c.id, c.name, c.status_reason) for c in session.scalars(
            select(Checkpoint).where(Checkpoint.status == CheckpointStatus.broken)
            .order_by(Checkpoint.id.desc()))]  # fmt: skip
        failed_housekeeping = [Failure(f.id, f"{f.task}: {f.error}", f.failed_at)
                               for f in session.scalars(select(HousekeepingFailure)
                               .order_by(HousekeepingFailure.id.desc()).limit(FAILURES_SHOWN))]  # fmt: skip
        decisive = rounds_repo.new_decisive_comparisons(session)
        judged = _current_candidates(session, settings)
    next_at = last_scheduled + timedelta(seconds=settings.round_min_interval_s) if last_scheduled else now
    return Overview(
        active_checkpoint_id=active, active_since=since, pool_ready=pool_ready, pool_target=settings.pool_target,
        eval_ready=eval_ready, refill_pairs_per_min=refilled / (REFILL_WINDOW.total_seconds() / 60),
        votes_last_hour=votes_hour, votes_total=votes_total, decisive_since_last_round=decisive,
        round_min_pairs=settings.round_min_pairs, schedule_on=settings.round_schedule,
        next_scheduled_round_at=max(next_at, now) if settings.round_schedule else None, running_round=running_out,
        workers=workers_seen(), queue_depths=queue_depths(), failed_rounds=failed_rounds,
        failed_generations=failed_generations, broken_checkpoints=broken, failed_housekeeping=failed_housekeeping,
        candidate=judged.get(DEFAULT_CAMPAIGN_ID), candidates=list(judged.values()),
    )  # fmt: skip
