"""Labelers' reports of images: a reported comparison leaves the pool for everyone; the reporter's vote
on it leaves training at once, and everyone's once an admin confirms the report (core/preferences.py
skips them)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import and_, exists, func, select, update
from sqlalchemy.orm import Session

from core.db.models import Comparison, Labeler, Report, Vote
from core.db.session import insert_for
from core.repo.comparisons import ComparisonNotFound, NotOpen, left_is_a
from core.states import ComparisonState, ReportReason, ReportStatus


def add_report(session: Session, comparison_id: int, labeler_id: int, side: str, reason: ReportReason,
               note: str | None) -> tuple[Report, bool]:  # fmt: skip
    """The report (created, or this labeler's earlier one) and whether it was created. Only a pair
    served to the labeler (held now, or voted on) can be reported. One labeler's reports are made one
    after the other (their row is locked on Postgres; SQLite has one writer), so a count of their reports
    in the same transaction sees every earlier one."""
    session.execute(select(Labeler.id).where(Labeler.id == labeler_id).with_for_update(key_share=True))
    row = session.execute(
        select(Comparison.generation_a_id, Comparison.generation_b_id, Comparison.leased_by)
        .where(Comparison.id == comparison_id)
    ).first()  # fmt: skip
    if row is None:
        raise ComparisonNotFound("no such comparison")
    a_id, b_id, leased_by = row
    mine = and_(Report.comparison_id == comparison_id, Report.labeler_id == labeler_id)
    earlier = session.scalar(select(Report).where(mine))
    if earlier is not None:
        return earlier, False
    voted = session.scalar(select(exists().where(Vote.comparison_id == comparison_id, Vote.labeler_id == labeler_id)))
    if leased_by != labeler_id and not voted:
        raise NotOpen("this pair was not served to you")  # no id: labelers name pairs by handle
    left, right = (a_id, b_id) if left_is_a(session, comparison_id, labeler_id) else (b_id, a_id)
    generation = {"left": left, "right": right}.get(side)
    created = session.execute(
        insert_for(session, Report)
        .values(comparison_id=comparison_id, labeler_id=labeler_id, side=side, generation_id=generation,
                reason=reason, note=note, created_at=datetime.now(UTC), status=ReportStatus.open)
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


def reports_since(session: Session, labeler_id: int, since: datetime) -> tuple[int, datetime | None]:
    """How many reports the labeler made since then, and when the oldest of them was made."""
    count, oldest = session.execute(
        select(func.count(Report.id), func.min(Report.created_at))
        .where(Report.labeler_id == labeler_id, Report.created_at >= since)
    ).one()  # fmt: skip
    return count, oldest


def decide(report: Report, status: ReportStatus, by: str) -> None:
    """An admin's word on a report: confirmed (no vote on its pair trains) or dismissed (the others' do)."""
    report.status, report.decided_by, report.decided_at = status, by, datetime.now(UTC)


def list_reports(session: Session, limit: int, status: ReportStatus | None = None) -> list[Report]:
    query = select(Report).order_by(Report.id.desc()).limit(limit)
    return list(session.scalars(query if status is None else query.where(Report.status == status)))


def withheld_votes(session: Session) -> tuple[set[int], set[tuple[int, int]]]:
    """What reports keep out of training: the comparisons of confirmed reports (every vote on them), and
    each reporter's own vote (comparison, labeler) whatever the admin decides."""
    rows = session.execute(select(Report.comparison_id, Report.labeler_id, Report.status)).all()
    return {c for c, _, status in rows if status == ReportStatus.confirmed}, {(c, labeler) for c, labeler, _ in rows}
