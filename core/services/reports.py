"""Reports of images by labelers (key R in the labeling UI)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from core.db.models import Comparison, Generation, Labeler, Report
from core.db.session import session_scope
from core.repo import reports as repo
from core.states import ReportReason


def report(comparison_id: int, labeler_id: int, side: str, reason: ReportReason, note: str | None = None):
    """(report, created). ComparisonNotFound; NotServed for a pair this labeler was never shown."""
    with session_scope() as session:
        return repo.add_report(session, comparison_id, labeler_id, side, reason, note)


@dataclass(frozen=True)
class ReportView:
    report: Report
    labeler: str
    prompt: str
    images: list[str]  # media paths of the reported image(s)


def reports(limit: int = 200) -> list[ReportView]:
    """The newest reports first, with who made them and the images they name."""
    with session_scope() as session:
        found = repo.list_reports(session, limit)
        names = dict(session.execute(select(Labeler.id, Labeler.name)).all())
        views = []
        for r in found:
            comparison = session.get(Comparison, r.comparison_id)
            ids = [r.generation_id] if r.generation_id else [comparison.generation_a_id, comparison.generation_b_id]
            paths = session.scalars(select(Generation.image_path).where(Generation.id.in_(ids))).all()
            views.append(ReportView(r, names.get(r.labeler_id, "?"), comparison.prompt, [p for p in paths if p]))
        return views
