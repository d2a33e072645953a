"""Queries on the preference model's versions and on the votes it learns from (no commits here)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from itertools import combinations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.db.models import DEFAULT_CAMPAIGN_ID, Comparison, Generation, Labeler, RewardModel, Vote
from core.states import Choice, ComparisonKind, RewardModelState

IN_FLIGHT = (RewardModelState.queued, RewardModelState.training)


def in_flight(session: Session, campaign_id: int = DEFAULT_CAMPAIGN_ID) -> RewardModel | None:
    query = select(RewardModel).where(RewardModel.state.in_(IN_FLIGHT), RewardModel.campaign_id == campaign_id)
    return session.scalar(query.order_by(RewardModel.id))


def newest_ready(session: Session, campaign_id: int = DEFAULT_CAMPAIGN_ID) -> RewardModel | None:
    """A campaign's preference model: its newest version that trained (a failed one never replaces it)."""
    return session.scalar(
        select(RewardModel).where(RewardModel.state == RewardModelState.ready, RewardModel.campaign_id == campaign_id)
        .order_by(RewardModel.id.desc())
    )  # fmt: skip


def in_flight_since(session: Session, before: datetime) -> list[RewardModel]:
    """Versions still queued or training that were requested (queued) or claimed (training) before `before`."""
    started = func.coalesce(RewardModel.started_at, RewardModel.created_at)
    return list(session.scalars(select(RewardModel).where(RewardModel.state.in_(IN_FLIGHT), started < before)))


def last_snapshot(session: Session, campaign_id: int = DEFAULT_CAMPAIGN_ID) -> int:
    """The newest vote a finished version (ready or failed) of the campaign's could see: its schedule counts
    from there."""
    finished = (RewardModelState.ready, RewardModelState.failed)
    newest = select(func.max(RewardModel.snapshot_vote_id))
    return session.scalar(newest.where(RewardModel.state.in_(finished), RewardModel.campaign_id == campaign_id)) or 0


def versions(session: Session, campaign_id: int = DEFAULT_CAMPAIGN_ID, limit: int = 200) -> list[RewardModel]:
    query = select(RewardModel).where(RewardModel.campaign_id == campaign_id)
    return list(session.scalars(query.order_by(RewardModel.id.desc()).limit(limit)))


def _human_decisive_votes(campaign_id: int, since_vote_id: int, up_to_vote_id: int | None = None):
    query = (
        select(Vote.id, Vote.labeler_id, Vote.comparison_id, Vote.winner_generation_id)
        .join(Comparison, Comparison.id == Vote.comparison_id)
        .where(Comparison.kind == ComparisonKind.train, Comparison.campaign_id == campaign_id,
               Vote.choice.in_((Choice.left, Choice.right)),
               Vote.id > since_vote_id, Vote.labeler_id.not_in(select(Labeler.id).where(Labeler.is_ai.is_(True))))
    )  # fmt: skip
    return query if up_to_vote_id is None else query.where(Vote.id <= up_to_vote_id)


def decisive_votes_since(session: Session, vote_id: int, campaign_id: int = DEFAULT_CAMPAIGN_ID) -> int:
    """People's decisive votes on the campaign's train pairs after `vote_id`: what schedules its next version."""
    subquery = _human_decisive_votes(campaign_id, vote_id).subquery()
    return session.scalar(select(func.count()).select_from(subquery)) or 0


def newest_vote_id(session: Session) -> int:
    return session.scalar(select(func.max(Vote.id))) or 0


def labeler_agreement(session: Session, up_to_vote_id: int, excluded: frozenset[int],
                      campaign_id: int = DEFAULT_CAMPAIGN_ID) -> dict:  # fmt: skip
    """How often two different people's decisive votes on one of the campaign's train pairs name the same
    winner (only pairs voted on by two or more): a reference for the preference model's accuracy, not a hard
    ceiling (two votes that each match the crowd with probability p agree p² + (1 − p)² of the time, below p)."""
    winners: dict[int, dict[int, int]] = defaultdict(dict)  # comparison → labeler → winner generation
    for _, labeler_id, comparison_id, winner in session.execute(_human_decisive_votes(campaign_id, 0, up_to_vote_id)):
        if labeler_id not in excluded:
            winners[comparison_id][labeler_id] = winner
    agree = pairs = comparisons = 0
    for by_labeler in winners.values():
        if len(by_labeler) < 2:
            continue
        comparisons += 1
        for a, b in combinations(by_labeler.values(), 2):
            pairs += 1
            agree += a == b
    return {"comparisons": comparisons, "vote_pairs": pairs, "rate": agree / pairs if pairs else None}


def images_of(session: Session, latents_paths: list[str]) -> dict[str, str]:
    """Latents file → image file (relative paths) of the generations that made them."""
    if not latents_paths:
        return {}
    rows = session.execute(select(Generation.latents_path, Generation.image_path)
                           .where(Generation.latents_path.in_(latents_paths)))  # fmt: skip
    return {latents: image for latents, image in rows if image}
