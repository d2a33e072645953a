"""The gold stock as the labelers see it, per campaign (each campaign's labelers meet gold pairs of its
own prompts and serving checkpoint): a labeler is never served a pair twice, so what counts is how
many ready gold pairs each labeler who votes now has not answered yet, not how many are ready.

A gold pair that every active labeler has answered leaves the pool (done), unless someone holds it
(a labeler it was served to may still vote on it): the pool holds what some labeler may still meet,
not every gold pair ever made for the checkpoint.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session

from core.db.models import Campaign, CampaignMember, Comparison, Labeler, Vote
from core.states import ComparisonKind, ComparisonState


def _ready_gold(checkpoint_id: int, campaign_id: int):
    # The campaign too: the base serves every campaign until one of its own is promoted.
    return and_(Comparison.kind == ComparisonKind.gold, Comparison.state == ComparisonState.ready,
                Comparison.checkpoint_id == checkpoint_id, Comparison.campaign_id == campaign_id)  # fmt: skip


def active_labelers(session: Session, since: datetime, campaign: Campaign) -> list[int]:
    """Labelers (still enabled) of this campaign who voted since `since`: those its gold pairs are made for."""
    voted = select(Vote.labeler_id).where(Vote.created_at >= since).distinct()
    query = select(Labeler.id).where(Labeler.active.is_(True), Labeler.id.in_(voted))
    if not campaign.open_to_all:
        members = select(CampaignMember.labeler_id).where(CampaignMember.campaign_id == campaign.id)
        query = query.where(Labeler.id.in_(members))
    return list(session.scalars(query))


def gold_stock(session: Session, checkpoint_id: int, campaign_id: int, labelers: list[int]) -> int:
    """The fewest ready gold pairs of this checkpoint that one of `labelers` has not answered (with
    no labeler: the ready gold pairs, which is what the next labeler will find)."""
    ready = session.scalar(select(func.count(Comparison.id)).where(_ready_gold(checkpoint_id, campaign_id))) or 0
    if not labelers:
        return ready
    answered = session.scalars(
        select(func.count(Vote.id))
        .join(Comparison, Comparison.id == Vote.comparison_id)
        .where(_ready_gold(checkpoint_id, campaign_id), Vote.labeler_id.in_(labelers))
        .group_by(Vote.labeler_id)
    ).all()  # fmt: skip
    return ready - max(answered, default=0)


def retire_answered_gold(session: Session, checkpoint_id: int, campaign_id: int, labelers: list[int]) -> int:
    """Gold pairs of this checkpoint that every one of `labelers` has answered leave the pool; returns
    how many. Never one that someone holds: a served pair stays its holder's to vote on after the lease
    lapses (until someone else is served it), and a vote clears the hold. Nothing retires while no
    labeler is active."""
    if not labelers:
        return 0
    answers = (
        select(func.count(Vote.id))
        .where(Vote.comparison_id == Comparison.id, Vote.labeler_id.in_(labelers))
        .scalar_subquery()
    )
    done = session.execute(
        update(Comparison)
        .where(
            _ready_gold(checkpoint_id, campaign_id),
            answers >= len(labelers),
            Comparison.leased_by.is_(None),
        )  # fmt: skip
        .values(state=ComparisonState.done)
        .execution_options(synchronize_session=False)
    )
    return done.rowcount
