"""Admin: labelers' reports of images, and an admin's word on each."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from app.api.deps import Admin, Id
from app.api.media import media_url
from app.api.schemas.reports import ReportAdminOut, ReportDecision
from core.services import reports
from core.states import ReportStatus

router = APIRouter(prefix="/admin/reports", tags=["admin"])


def report_out(v: reports.ReportView) -> ReportAdminOut:
    r = v.report
    return ReportAdminOut(id=r.id, comparison_id=r.comparison_id, side=r.side, reason=r.reason.value,
                          created_at=r.created_at, labeler=v.labeler, prompt=v.prompt, note=r.note,
                          image_urls=[media_url(p) for p in v.images], status=r.status, decided_by=r.decided_by,
                          decided_at=r.decided_at)  # fmt: skip


@router.get("", response_model=list[ReportAdminOut])
def list_reports(
    _: Admin,
    limit: int = Query(200, ge=1, le=2000),
    only: Annotated[ReportStatus | None, Query(alias="status", description="Only reports in this state.")] = None,
) -> list[ReportAdminOut]:
    """Reports, newest first (only those of `status` if given): who reported which image, why, the
    image, and an admin's word on it."""
    return [report_out(v) for v in reports.reports(limit, only)]


@router.patch("/{report_id}", response_model=ReportAdminOut)
def decide_report(report_id: Id, body: ReportDecision, admin: Admin) -> ReportAdminOut:
    """Confirm a report (no vote on its pair trains) or dismiss it (the other labelers' votes on it train
    again; the reporter's stays out). The pair stays out of the pool either way."""
    try:
        return report_out(reports.decide(report_id, ReportStatus(body.status), admin))
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
