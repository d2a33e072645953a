"""Arena matches: an admin asks for two checkpoints of one campaign's lineage to be compared on its
evaluation prompts.

A match waits in `rendering` until the generate worker has rendered both checkpoints' images (afresh,
with the match's own seeds), then becomes an evaluation of kind match (A against B) whose pairs
labelers see blind, whatever serves.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from core.db.models import ArenaMatch, Checkpoint
from core.repo.evaluations import evaluation_between
from core.states import BASE_CHECKPOINT_ID, CheckpointStatus, MatchState


class MatchRefused(ValueError):
    """The match cannot be queued; the message says why."""


def create_match(session: Session, a: int, b: int, by: str) -> ArenaMatch:
    """Queue a match of checkpoints a and b in the caller's transaction; LookupError for a checkpoint
    that does not exist, MatchRefused for one that cannot be compared or a pair already compared."""
    if a == b:
        raise MatchRefused("a checkpoint cannot be matched against itself")
    for checkpoint_id in (a, b):
        checkpoint = session.get(Checkpoint, checkpoint_id)
        if checkpoint is None:
            raise LookupError(f"checkpoint {checkpoint_id} does not exist")
        if checkpoint.status == CheckpointStatus.broken:
            raise MatchRefused(f"checkpoint {checkpoint_id} is broken: {checkpoint.status_reason}")
    lineages = {session.get(Checkpoint, c).campaign_id for c in (a, b) if c != BASE_CHECKPOINT_ID}
    if len(lineages) > 1:
        raise MatchRefused(f"checkpoints {a} and {b} are of two campaigns' lineages: an arena ranks one "
                           "campaign's checkpoints, judged by its labelers")  # fmt: skip
    existing = evaluation_between(session, a, b)
    if existing is not None:
        raise MatchRefused(f"checkpoints {a} and {b} already have an evaluation ({existing}); its pairs are served")
    pending = session.scalar(
        select(ArenaMatch.id).where(
            ArenaMatch.state == MatchState.rendering,
            or_(and_(ArenaMatch.checkpoint_a_id == a, ArenaMatch.checkpoint_b_id == b),
                and_(ArenaMatch.checkpoint_a_id == b, ArenaMatch.checkpoint_b_id == a)),
        )
    )  # fmt: skip
    if pending is not None:
        raise MatchRefused(f"match {pending} of checkpoints {a} and {b} is already being rendered")
    match = ArenaMatch(checkpoint_a_id=a, checkpoint_b_id=b, requested_by=by, state=MatchState.rendering)
    session.add(match)
    session.flush()
    return match


def due_match(session: Session) -> ArenaMatch | None:
    """The oldest match still waiting for its images."""
    return session.scalar(
        select(ArenaMatch).where(ArenaMatch.state == MatchState.rendering).order_by(ArenaMatch.id).limit(1)
    )


def end_match(session: Session, match_id: int, evaluation_id: int | None, error: str | None = None) -> None:
    """Ready with its evaluation, or failed with the reason."""
    match = session.get(ArenaMatch, match_id)
    match.state = MatchState.ready if evaluation_id is not None else MatchState.failed
    match.evaluation_id, match.error, match.finished_at = evaluation_id, error, datetime.now(UTC)


def list_matches(session: Session, limit: int = 100, campaign_id: int | None = None) -> list[ArenaMatch]:
    """The newest matches (of one campaign's lineage: the campaign of its checkpoints other than the base)."""
    query = select(ArenaMatch).order_by(ArenaMatch.id.desc()).limit(limit)
    if campaign_id is not None:
        lineage = select(Checkpoint.id).where(Checkpoint.campaign_id == campaign_id,
                                              Checkpoint.id != BASE_CHECKPOINT_ID)  # fmt: skip
        query = query.where(or_(ArenaMatch.checkpoint_a_id.in_(lineage), ArenaMatch.checkpoint_b_id.in_(lineage)))
    return list(session.scalars(query))
