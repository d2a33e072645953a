"""Reports of images by labelers (key R in the labeling UI), capped per labeler, and an admin's review."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from limits import parse
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db.models import Comparison, Generation, Labeler, Report
from core.db.session import session_scope
from core.repo import reports as repo
from core.settings import Settings
from core.states import ReportReason, ReportStatus


class ReportCapReached(RuntimeError):
    """The labeler made as many reports as DPOLOOP_REPORT_RATE_LIMIT allows for now; `retry_after_s` says
    when to return."""

    def __init__(self, message: str, retry_after_s: int):
        super().__init__(message)
        self.retry_after_s = retry_after_s


def report(comparison_id: int, labeler_id: int, side: str, reason: ReportReason, settings: Settings,
           note: str | None = None) -> tuple[Report, bool]:  # fmt: skip
    """(report, created). ComparisonNotFound; NotOpen for a pair this labeler was never shown;
    ReportCapReached past DPOLOOP_REPORT_RATE_LIMIT (nothing is recorded or retired then). The cap is a
    count of the labeler's reports in the database: it holds across API processes whatever the broker,
    counts only reports made (a repeat or a refused one costs nothing), and does not fail open when Redis
    is down, as the `limits` counters of app/api/rate_limits.py do."""
    limit = parse(settings.report_rate_limit)
    window = timedelta(seconds=limit.get_expiry())
    with session_scope() as session:
        row, created = repo.add_report(session, comparison_id, labeler_id, side, reason, note)
        if created:
            now = datetime.now(UTC)
            count, oldest = repo.reports_since(session, labeler_id, now - window)
            if count > limit.amount:  # this one included: roll it back
                wait = max(1, math.ceil((oldest + window - now).total_seconds()))
                raise ReportCapReached(f"come back later: {limit.amount} reports in the last {limit.multiples} "
                                       f"{limit.GRANULARITY.name} (the cap is {limit})", wait)  # fmt: skip
        return row, created


@dataclass(frozen=True)
class ReportView:
    report: Report
    labeler: str
    prompt: str
    images: list[str]  # media paths of the reported image(s)


def _view(session: Session, r: Report, names: dict[int, str]) -> ReportView:
    comparison = session.get(Comparison, r.comparison_id)
    ids = [r.generation_id] if r.generation_id else [comparison.generation_a_id, comparison.generation_b_id]
    paths = session.scalars(select(Generation.image_path).where(Generation.id.in_(ids))).all()
    return ReportView(r, names.get(r.labeler_id, "?"), comparison.prompt, [p for p in paths if p])


def reports(limit: int = 200, status: ReportStatus | None = None) -> list[ReportView]:
    """The newest reports first (only those of `status` if given), with who made them and the images
    they name."""
    with session_scope() as session:
        names = dict(session.execute(select(Labeler.id, Labeler.name)).all())
        return [_view(session, r, names) for r in repo.list_reports(session, limit, status)]


def decide(report_id: int, status: ReportStatus, by: Labeler) -> ReportView:
    """An admin confirms a report (no vote on its pair trains) or dismisses it (the other labelers'
    votes train again; the reporter's stays out); a later word replaces an earlier one. LookupError
    if there is no such report."""
    if status == ReportStatus.open:
        raise ValueError("a report is confirmed or dismissed")
    with session_scope() as session:
        found = session.get(Report, report_id)
        if found is None:
            raise LookupError(f"report {report_id} does not exist")
        repo.decide(found, status, by.name)
        session.flush()
        return _view(session, found, {found.labeler_id: session.get(Labeler, found.labeler_id).name})
