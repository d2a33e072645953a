"""Candidacies: checkpoints that passed the gate and wait for the labelers' verdict (core/verdict.py).

At most one is judged at a time: a newer candidate ends the older one's candidacy as undecided."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db.models import Candidacy
from core.states import CandidateState


def judging(session: Session) -> Candidacy | None:
    """The candidacy being judged now, if any (the newest, should two ever be open)."""
    return session.scalar(
        select(Candidacy).where(Candidacy.state == CandidateState.judging).order_by(Candidacy.id.desc()).limit(1)
    )


def judging_checkpoint_id(session: Session) -> int | None:
    """The checkpoint being judged now, if any."""
    candidacy = judging(session)
    return candidacy.checkpoint_id if candidacy else None


def of_checkpoints(session: Session, checkpoint_ids: Collection[int] | None = None) -> dict[int, Candidacy]:
    """Each checkpoint's candidacy (checkpoints that never were candidates are absent)."""
    query = select(Candidacy)
    if checkpoint_ids is not None:
        query = query.where(Candidacy.checkpoint_id.in_(checkpoint_ids))
    return {c.checkpoint_id: c for c in session.scalars(query)}
