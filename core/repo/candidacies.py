"""Candidacies: checkpoints that passed the gate and wait for their campaign's labelers' verdict
(core/verdict.py).

At most one per campaign is judged at a time: a newer candidate of the campaign ends the older one's
candidacy as undecided. A candidacy's campaign is its checkpoint's (the lineage it extends)."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from core.db.models import Candidacy, Checkpoint
from core.states import DEFAULT_CAMPAIGN_ID, CandidateState


def judging_query(campaign_id: int | None = DEFAULT_CAMPAIGN_ID) -> Select:
    """The judging candidacies of one campaign (None: of every campaign), newest first. A subquery, not
    a join: the callers lock the rows it selects (FOR UPDATE of candidacies alone)."""
    query = select(Candidacy).where(Candidacy.state == CandidateState.judging)
    if campaign_id is not None:
        lineage = select(Checkpoint.id).where(Checkpoint.campaign_id == campaign_id)
        query = query.where(Candidacy.checkpoint_id.in_(lineage.scalar_subquery()))
    return query.order_by(Candidacy.id.desc())


def judging_campaigns(session: Session) -> dict[int, Candidacy]:
    """Each campaign's candidacy judged now (campaign id → candidacy), by campaign id."""
    rows = session.execute(
        select(Checkpoint.campaign_id, Candidacy)
        .join(Checkpoint, Checkpoint.id == Candidacy.checkpoint_id)
        .where(Candidacy.state == CandidateState.judging)
        .order_by(Checkpoint.campaign_id, Candidacy.id.desc())
    )
    found: dict[int, Candidacy] = {}
    for campaign_id, candidacy in rows:
        found.setdefault(campaign_id, candidacy)
    return found


def of_checkpoints(session: Session, checkpoint_ids: Collection[int] | None = None) -> dict[int, Candidacy]:
    """Each checkpoint's candidacy (checkpoints that never were candidates are absent)."""
    query = select(Candidacy)
    if checkpoint_ids is not None:
        query = query.where(Candidacy.checkpoint_id.in_(checkpoint_ids))
    return {c.checkpoint_id: c for c in session.scalars(query)}
