"""Reading voted comparisons for export, a batch of comparisons at a time (keyset by id), so an
export of any size holds one batch in memory and streams."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from core.db.models import DEFAULT_CAMPAIGN_ID, Checkpoint, Comparison, Generation, Labeler, Vote
from core.repo.install import keyed_digest
from core.states import Choice, ComparisonKind


@dataclass(frozen=True)
class VoteRow:
    vote_id: int
    comparison_id: int
    labeler_id: int
    labeler_active: bool
    choice: Choice
    winner_generation_id: int | None
    left_generation_id: int
    decision_ms: int | None
    created_at: datetime
    guidelines_version: int | None


@dataclass(frozen=True)
class ImageRow:
    id: int
    public_id: str
    seed: int
    params: dict
    checkpoint_id: int | None
    image_path: str | None
    latents_path: str | None


@dataclass(frozen=True)
class ComparisonRow:
    id: int
    prompt: str
    kind: ComparisonKind
    generation_a_id: int
    generation_b_id: int
    created_at: datetime


def comparison_batch(
    session: Session, after_id: int, limit: int, kinds: list[ComparisonKind], since: datetime | None,
    campaign_id: int = DEFAULT_CAMPAIGN_ID,
) -> list[ComparisonRow]:
    """A campaign's next comparisons (id > after_id) that have votes (cast at or after `since`), by id."""
    voted = select(Vote.id).where(Vote.comparison_id == Comparison.id)
    if since is not None:
        voted = voted.where(Vote.created_at >= since)
    rows = session.execute(
        select(Comparison.id, Comparison.prompt, Comparison.kind, Comparison.generation_a_id,
               Comparison.generation_b_id, Comparison.created_at)
        .where(Comparison.id > after_id, Comparison.kind.in_(kinds), Comparison.campaign_id == campaign_id,
               exists(voted))
        .order_by(Comparison.id)
        .limit(limit)
    ).all()  # fmt: skip
    return [ComparisonRow(*row) for row in rows]


def votes_of(session: Session, comparison_ids: list[int]) -> list[VoteRow]:
    rows = session.execute(
        select(Vote.id, Vote.comparison_id, Vote.labeler_id, Labeler.active, Vote.choice, Vote.winner_generation_id,
               Vote.left_generation_id, Vote.decision_ms, Vote.created_at, Vote.guidelines_version)
        .join(Labeler, Labeler.id == Vote.labeler_id)
        .where(Vote.comparison_id.in_(comparison_ids))
        .order_by(Vote.id)
    ).all()  # fmt: skip
    return [VoteRow(*row) for row in rows]


def images_of(session: Session, generation_ids: set[int]) -> dict[int, ImageRow]:
    rows = session.execute(
        select(Generation.id, Generation.public_id, Generation.seed, Generation.params, Generation.checkpoint_id,
               Generation.image_path, Generation.latents_path).where(Generation.id.in_(generation_ids))
    ).all()  # fmt: skip
    return {row[0]: ImageRow(*row) for row in rows}


def checkpoint_names(session: Session) -> dict[int, str]:
    return dict(session.execute(select(Checkpoint.id, Checkpoint.name)).all())


def pseudonym(session: Session, labeler_id: int) -> str:
    """A stable name for a labeler that reveals neither who they are nor their id (keyed by the
    install's secret, so it is the same in every export of this install and nowhere else)."""
    return "u" + keyed_digest(session, f"export-user:{labeler_id}")[:6].hex()
