"""The pool of comparisons and the votes on them.

Serving: a comparison is offered to one labeler at a time (a short lease), never to a labeler who
already voted on it, and only while its checkpoint serves. Sides are shuffled per labeler by a
keyed hash, so the same labeler always sees the same order (a repeated vote means the same thing)
and nothing in the response tells which image came from where.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, case, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db.models import Choice, Comparison, ComparisonKind, ComparisonState, Generation, Vote
from app.repo.checkpoints import active_checkpoint_id


def left_is_a(comparison_id: int, labeler_id: int) -> bool:
    """Whether this labeler sees generation A on the left (stable, about half the time)."""
    digest = hashlib.sha256(f"sides:{comparison_id}:{labeler_id}".encode()).digest()
    return digest[0] & 1 == 0


def ready_pool_count(session: Session, checkpoint_id: int) -> int:
    """Train comparisons of this checkpoint still waiting for votes."""
    return session.scalar(
        select(func.count(Comparison.id)).where(
            Comparison.state == ComparisonState.ready,
            Comparison.kind == ComparisonKind.train,
            Comparison.checkpoint_id == checkpoint_id,
        )
    )


def next_for_labeler(
    session: Session, labeler_id: int, lease_s: float, exclude: list[int] | None = None
) -> Comparison | None:
    """Lease and return the next comparison this labeler should see, or None when there is none."""
    now = datetime.now(UTC)
    active = active_checkpoint_id(session)
    already_voted = exists().where(Vote.comparison_id == Comparison.id, Vote.labeler_id == labeler_id)
    query = (
        select(Comparison.id)
        .where(
            Comparison.state == ComparisonState.ready,
            or_(Comparison.kind == ComparisonKind.eval, Comparison.checkpoint_id == active),
            or_(Comparison.leased_until.is_(None), Comparison.leased_until < now, Comparison.leased_by == labeler_id),
            ~already_voted,
        )
        .order_by(Comparison.kind.desc(), Comparison.id)  # eval comparisons first: they measure checkpoints
        .limit(8)
    )
    if exclude:
        query = query.where(Comparison.id.not_in(exclude))
    if session.bind.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    for comparison_id in session.scalars(query).all():
        # A conditional update claims the lease; losing a race just moves on to the next candidate.
        claimed = session.execute(
            update(Comparison)
            .where(
                Comparison.id == comparison_id,
                or_(
                    Comparison.leased_until.is_(None), Comparison.leased_until < now, Comparison.leased_by == labeler_id
                ),
            )
            .values(leased_by=labeler_id, leased_until=now + timedelta(seconds=lease_s))
        ).rowcount
        if claimed:
            session.commit()
            return session.get(Comparison, comparison_id)
    session.commit()
    return None


@dataclass
class VoteOutcome:
    vote: Vote
    created: bool  # False when this labeler had already voted: the first vote is returned unchanged


def record_vote(
    session: Session,
    comparison: Comparison,
    labeler_id: int,
    choice: Choice,
    decision_ms: int | None,
    votes_per_comparison: int,
) -> VoteOutcome:
    """Record a labeler's vote once; a repeat returns the first vote and writes nothing."""
    existing = _existing_vote(session, comparison.id, labeler_id)
    if existing is not None:
        return VoteOutcome(existing, created=False)
    a_left = left_is_a(comparison.id, labeler_id)
    left, right = (
        (comparison.generation_a_id, comparison.generation_b_id)
        if a_left
        else (comparison.generation_b_id, comparison.generation_a_id)
    )
    winner = {Choice.left: left, Choice.right: right}.get(choice)
    vote = Vote(
        comparison_id=comparison.id,
        labeler_id=labeler_id,
        choice=choice,
        left_generation_id=left,
        winner_generation_id=winner,
        decision_ms=decision_ms,
    )
    session.add(vote)
    try:
        session.flush()
    except IntegrityError:
        # The same labeler voted concurrently (double click, retry): the first one stands.
        session.rollback()
        return VoteOutcome(_existing_vote(session, comparison.id, labeler_id), created=False)
    done = and_(Comparison.vote_count + 1 >= votes_per_comparison, Comparison.state == ComparisonState.ready)
    session.execute(
        update(Comparison)
        .where(Comparison.id == comparison.id)
        .values(
            vote_count=Comparison.vote_count + 1,
            state=case((done, ComparisonState.done.value), else_=Comparison.state),
            leased_by=None,
            leased_until=None,
        )
    )
    session.commit()
    return VoteOutcome(vote, created=True)


def _existing_vote(session: Session, comparison_id: int, labeler_id: int) -> Vote | None:
    return session.scalars(
        select(Vote).where(Vote.comparison_id == comparison_id, Vote.labeler_id == labeler_id)
    ).first()


def sides_for(comparison: Comparison, labeler_id: int) -> tuple[Generation, Generation]:
    """(left, right) generations as this labeler sees them."""
    a, b = comparison.generation_a, comparison.generation_b
    return (a, b) if left_is_a(comparison.id, labeler_id) else (b, a)
