"""The pool of comparisons and the votes on them; the hot paths of the labeling loop.

Serving: a comparison is offered to one labeler at a time (a short lease), never to a labeler who
already voted on it, and only while its checkpoint serves (arena matches: whatever serves). Sides
are shuffled per labeler by a keyed hash, so the same labeler always sees the same order (a
repeated vote means the same thing) and nothing in the response tells which image came from where.

Both hot paths are a handful of SQL statements (SQLAlchemy Core, no ORM loading): on Postgres the
lease is one `UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED) RETURNING`, so concurrent
labelers never wait on each other's rows; a vote is one `INSERT … ON CONFLICT DO NOTHING`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, case, exists, false, func, or_, select, update
from sqlalchemy.orm import Session

from core.db.models import DEFAULT_CAMPAIGN_ID, Candidacy, Comparison, Generation, Vote
from core.db.session import insert_for
from core.repo.checkpoints import active_checkpoint_id
from core.repo.handles import handle_for
from core.repo.install import keyed_digest
from core.states import CandidateState, Choice, ComparisonKind, ComparisonState


def left_is_a(session: Session, comparison_id: int, labeler_id: int) -> bool:
    """Whether this labeler sees generation A on the left: stable, about half the time, and keyed by
    the install's secret, so knowing both ids does not tell which side is which."""
    return keyed_digest(session, f"sides:{comparison_id}:{labeler_id}")[0] & 1 == 0


def ready_pool_count(session: Session, checkpoint_id: int, campaign_id: int = DEFAULT_CAMPAIGN_ID) -> int:
    """A campaign's train comparisons of this checkpoint waiting for votes that no labeler holds now:
    pairs on someone's screen do not keep the pool from refilling for everyone else."""
    now = datetime.now(UTC)
    return session.scalar(
        select(func.count(Comparison.id)).where(
            Comparison.state == ComparisonState.ready,
            Comparison.kind == ComparisonKind.train,
            Comparison.checkpoint_id == checkpoint_id,
            Comparison.campaign_id == campaign_id,
            or_(Comparison.leased_until.is_(None), Comparison.leased_until < now),
        )
    )


def release_excess_holds(session: Session, labeler_id: int, now: datetime, keep: int) -> None:
    """Let a labeler hold at most `keep` pairs: the longest-unfetched ones beyond that lapse now. They
    stay theirs to vote on until someone else is served them (leased_by is kept)."""
    excess = (
        select(Comparison.id)
        .where(Comparison.leased_by == labeler_id, Comparison.leased_until > now)
        .order_by(Comparison.leased_until.desc())
        .offset(keep)
    )
    session.execute(update(Comparison).where(Comparison.id.in_(excess.scalar_subquery())).values(leased_until=now))


@dataclass(frozen=True)
class ShownComparison:
    """A comparison as one labeler sees it; they are given its handle, never its id (core/repo/handles.py)."""

    id: int
    handle: str
    prompt: str
    left_image: str
    right_image: str
    campaign_id: int = DEFAULT_CAMPAIGN_ID
    campaign: str = "default"  # its name (the service fills it in)


def _free_for(labeler_id: int, now: datetime):
    return or_(Comparison.leased_until.is_(None), Comparison.leased_until < now, Comparison.leased_by == labeler_id)


def measuring(campaign_id: int, active: int):
    """A campaign's pairs that rate checkpoints: the evaluation of what serves it (`active`), its judging
    candidate's (it serves nothing else, and its verdict waits on them), and its arena matches whatever
    serves."""
    judging = select(Candidacy.checkpoint_id).where(Candidacy.state == CandidateState.judging)
    return and_(
        Comparison.campaign_id == campaign_id,
        or_(
            and_(
                Comparison.kind == ComparisonKind.eval,
                or_(Comparison.checkpoint_id == active, Comparison.checkpoint_id.in_(judging)),
            ),
            Comparison.kind == ComparisonKind.match,
        ),
    )


def _training(campaign_id: int, serving: int):
    return and_(Comparison.kind == ComparisonKind.train, Comparison.campaign_id == campaign_id,
                Comparison.checkpoint_id == serving)  # fmt: skip


def _gold(campaign_id: int, serving: int):
    return and_(Comparison.kind == ComparisonKind.gold, Comparison.checkpoint_id == serving,
                Comparison.campaign_id == campaign_id)  # fmt: skip


def _candidates(labeler_id: int, now: datetime, stage, exclude: list[int] | None):
    query = select(Comparison.id).where(
        Comparison.state == ComparisonState.ready,
        stage,
        _free_for(labeler_id, now),
        ~exists().where(Vote.comparison_id == Comparison.id, Vote.labeler_id == labeler_id),
    )
    if exclude:
        query = query.where(Comparison.id.not_in(exclude))
    return query.order_by(Comparison.id)


def _any_open(session: Session, labeler_id: int, now: datetime, stage, exclude: list[int] | None) -> bool:
    return session.scalar(select(exists(_candidates(labeler_id, now, stage, exclude)))) or False


def _lease(session: Session, labeler_id: int, now: datetime, lease_s: float, candidates) -> tuple | None:
    lease = {"leased_by": labeler_id, "leased_until": now + timedelta(seconds=lease_s)}
    returning = (Comparison.id, Comparison.prompt, Comparison.generation_a_id, Comparison.generation_b_id,
                 Comparison.campaign_id)  # fmt: skip
    if session.bind.dialect.name == "postgresql":
        chosen = candidates.limit(1).with_for_update(skip_locked=True).scalar_subquery()
        return session.execute(
            update(Comparison).where(Comparison.id == chosen).values(**lease).returning(*returning)
        ).first()
    # SQLite serializes writers, but its SELECT runs before the write transaction begins: the update
    # checks again that the pair is still open and free (a vote or another lease may have come between).
    for comparison_id in session.scalars(candidates.limit(8)).all():
        row = session.execute(
            update(Comparison)
            .where(Comparison.id == comparison_id, Comparison.state == ComparisonState.ready,
                   _free_for(labeler_id, now))  # fmt: skip
            .values(**lease)
            .returning(*returning)
        ).first()
        if row is not None:
            return row
    return None


def next_for_labeler(
    session: Session, labeler_id: int, lease_s: float, exclude: list[int] | None = None, max_held: int = 4,
    gold_rate: float = 0.0, may_measure: Callable[[], bool] = lambda: True,
    campaigns: Sequence[tuple[int, int]] | None = None,
) -> ShownComparison | None:
    """Lease and return the next comparison this labeler should see, or None when there is none; the
    labeler then holds at most `max_held` pairs (however many ids they exclude).

    Pairs that measure checkpoints (a candidate's or a promotion's evaluation, arena matches) of the
    labeler's campaigns come first, to those who `may_measure` (asked only while such a pair is open to
    them: it costs a few queries); then, at `gold_rate`, a gold pair of their campaigns (served like any
    other, so nobody can tell it apart); then train pairs of the labeler's
    `campaigns`, (campaign id, the checkpoint serving it) in the order to try them (None: the default
    campaign alone)."""
    now = datetime.now(UTC)
    order = [(DEFAULT_CAMPAIGN_ID, active_checkpoint_id(session))] if campaigns is None else campaigns
    training = [_training(campaign_id, serving) for campaign_id, serving in order]
    stages = list(training)
    rating = or_(*(measuring(campaign_id, serving) for campaign_id, serving in order))
    if _any_open(session, labeler_id, now, rating, exclude) and may_measure():
        stages.insert(0, rating)
    drawn = bool(order) and gold_rate > 0 and random.random() < gold_rate
    if drawn and _any_open(session, labeler_id, now, or_(*training), exclude):
        # Only while train pairs wait: a labeler polling an empty pool would otherwise meet gold
        # pair after gold pair, far above the rate.
        stages.insert(len(stages) - len(training), or_(*(_gold(c, serving) for c, serving in order)))
    row = None
    for stage in stages:
        row = _lease(session, labeler_id, now, lease_s, _candidates(labeler_id, now, stage, exclude))
        if row is not None:
            break
    if row is None:
        return None
    release_excess_holds(session, labeler_id, now, max_held)
    comparison_id, prompt, a_id, b_id, campaign_id = row
    images = dict(
        session.execute(select(Generation.id, Generation.image_path).where(Generation.id.in_((a_id, b_id)))).all()
    )
    left, right = (a_id, b_id) if left_is_a(session, comparison_id, labeler_id) else (b_id, a_id)
    handle = handle_for(session, comparison_id, labeler_id)
    return ShownComparison(comparison_id, handle, prompt, images[left], images[right], campaign_id)


@dataclass
class VoteOutcome:
    vote: Vote
    created: bool  # False when this labeler had already voted: the first vote is returned unchanged


class ComparisonNotFound(LookupError):
    pass


class NotOpen(ValueError):
    """The comparison is not open to this labeler: never served to them, leased to someone else
    since, or no longer in the pool (its checkpoint stopped serving, or it has its votes)."""


def record_vote(
    session: Session,
    comparison_id: int,
    labeler_id: int,
    choice: Choice,
    decision_ms: int | None,
    votes_per_comparison: int,
    guidelines_version: int | None = None,
) -> VoteOutcome:
    """Record a labeler's vote once, on a comparison served to them and still open; a repeat (or a
    concurrent duplicate) returns the first vote. ComparisonNotFound, or NotOpen."""
    row = session.execute(
        select(Comparison.generation_a_id, Comparison.generation_b_id, Comparison.state, Comparison.leased_by,
               Comparison.kind)
        .where(Comparison.id == comparison_id)
    ).first()  # fmt: skip
    if row is None:
        raise ComparisonNotFound("no such comparison")
    a_id, b_id, state, leased_by, kind = row
    if state != ComparisonState.ready or leased_by != labeler_id:
        existing = _existing_vote(session, comparison_id, labeler_id)
        if existing is not None:
            return VoteOutcome(existing, created=False)
        # No id in the message: labelers name pairs by handle, and an id would tell creation order.
        raise NotOpen("this pair was not served to you, or is no longer open for votes")
    left, right = (a_id, b_id) if left_is_a(session, comparison_id, labeler_id) else (b_id, a_id)
    values = {
        "comparison_id": comparison_id,
        "labeler_id": labeler_id,
        "choice": choice,
        "left_generation_id": left,
        "winner_generation_id": {Choice.left: left, Choice.right: right}.get(choice),
        "decision_ms": decision_ms,
        "guidelines_version": guidelines_version,
        "created_at": datetime.now(UTC),
    }
    inserted = session.execute(
        insert_for(session, Vote)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["comparison_id", "labeler_id"])
        .returning(Vote.id)
    ).scalar()
    if inserted is None:  # the conflicting row is committed (ON CONFLICT waited for it): read it
        return VoteOutcome(_existing_vote(session, comparison_id, labeler_id), created=False)
    # A gold pair stays in the pool: every labeler should meet some of them.
    done = (false() if kind == ComparisonKind.gold
            else and_(Comparison.vote_count + 1 >= votes_per_comparison, Comparison.state == ComparisonState.ready))
    session.execute(
        update(Comparison)
        .where(Comparison.id == comparison_id)
        .values(
            vote_count=Comparison.vote_count + 1,
            state=case((done, ComparisonState.done.value), else_=Comparison.state),
            # Release the lease only if it is this labeler's: another labeler may hold it.
            leased_by=case((Comparison.leased_by == labeler_id, None), else_=Comparison.leased_by),
            leased_until=case((Comparison.leased_by == labeler_id, None), else_=Comparison.leased_until),
        )
    )
    return VoteOutcome(Vote(id=inserted, **values), created=True)


def _existing_vote(session: Session, comparison_id: int, labeler_id: int) -> Vote | None:
    return session.scalars(
        select(Vote).where(Vote.comparison_id == comparison_id, Vote.labeler_id == labeler_id)
    ).first()
