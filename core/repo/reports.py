"""Labelers' reports of images: a reported comparison leaves the pool for everyone, and no round
trains on it (core/repo/preferences.py skips reported comparisons)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import and_, exists, select, update
from sqlalchemy.orm import Session

from core.db.models import Comparison, Report, Vote
from core.db.session import insert_for
from core.repo.comparisons import ComparisonNotFound, NotServed, left_is_a
from core.states import ComparisonState, ReportReason


def add_report(session: Session, comparison_id: int, labeler_id: int, side: str, reason: ReportReason,
               note: str | None) -> tuple[Report, bool]:  # fmt: skip
    """The report (created, or this labeler's earlier one) and whether it was created. Only a pair
    served to the labeler (held now, or voted on) can be reported."""
    row = session.execute(
        select(Comparison.generation_a_id, Comparison.generation_b_id, Comparison.leased_by)
        .where(Comparison.id == comparison_id)
    ).first()  # fmt: skip
    if row is None:
        raise ComparisonNotFound(f"comparison {comparison_id} does not exist")
    a_id, b_id, leased_by = row
    mine = and_(Report.comparison_id == comparison_id, Report.labeler_id == labeler_id)
    earlier = session.scalar(select(Report).where(mine))
    if earlier is not None:
        return earlier, False
    voted = session.scalar(select(exists().where(Vote.comparison_id == comparison_id, Vote.labeler_id == labeler_id)))
    if leased_by != labeler_id and not voted:
        raise NotServed(f"comparison {comparison_id} was not served to you")
    left, right = (a_id, b_id) if left_is_a(session, comparison_id, labeler_id) else (b_id, a_id)
    generation = {"left": left, "right": right}.get(side)
    created = session.execute(
        insert_for(session, Report)
        .values(comparison_id=comparison_id, labeler_id=labeler_id, side=side, generation_id=generation,
                reason=reason, note=note, created_at=datetime.now(UTC))
        .on_conflict_do_nothing(index_elements=["comparison_id", "labeler_id"])
        .returning(Report.id)
    ).scalar()  # fmt: skip
    session.execute(
        update(Comparison)
        .where(Comparison.id == comparison_id, Comparison.state == ComparisonState.ready)
        .values(state=ComparisonState.retired, leased_by=None, leased_until=None)
    )
    report = session.scalar(select(Report).where(mine))
    return report, created is not None


def list_reports(session: Session, limit: int) -> list[Report]:
    return list(session.scalars(select(Report).order_by(Report.id.desc()).limit(limit)))
