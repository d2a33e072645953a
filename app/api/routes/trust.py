"""Admin: labelers' reports of images, the prompt filter, and the alerts operators are told."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response, status

from app.api.deps import Admin, AppSettings, Id
from app.api.errors import unprocessable
from app.api.media import media_url
from core.schemas.api import (
    AlertEventOut,
    PromptFilterApplied,
    PromptFilterIn,
    PromptFilterOut,
    ReportAdminOut,
    ReportDecision,
)
from core.services import alerts, prompt_filter, reports
from core.states import ReportStatus

router = APIRouter(prefix="/admin", tags=["admin"])


def report_out(v: reports.ReportView) -> ReportAdminOut:
    r = v.report
    return ReportAdminOut(id=r.id, comparison_id=r.comparison_id, side=r.side, reason=r.reason.value,
                          created_at=r.created_at, labeler=v.labeler, prompt=v.prompt, note=r.note,
                          image_urls=[media_url(p) for p in v.images], status=r.status, decided_by=r.decided_by,
                          decided_at=r.decided_at)  # fmt: skip


@router.get("/reports", response_model=list[ReportAdminOut])
def list_reports(
    _: Admin,
    limit: int = Query(200, ge=1, le=2000),
    only: Annotated[ReportStatus | None, Query(alias="status", description="Only reports in this state.")] = None,
) -> list[ReportAdminOut]:
    """Reports, newest first (only those of `status` if given): who reported which image, why, the
    image, and an admin's word on it."""
    return [report_out(v) for v in reports.reports(limit, only)]


@router.patch("/reports/{report_id}", response_model=ReportAdminOut)
def decide_report(report_id: Id, body: ReportDecision, admin: Admin) -> ReportAdminOut:
    """Confirm a report (no vote on its pair trains) or dismiss it (the other labelers' votes on it train
    again; the reporter's stays out). The pair stays out of the pool either way."""
    try:
        return report_out(reports.decide(report_id, ReportStatus(body.status), admin))
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc


@router.get("/prompt-filter", response_model=list[PromptFilterOut])
def list_rules(_: Admin) -> list[PromptFilterOut]:
    return [PromptFilterOut.model_validate(r, from_attributes=True) for r in prompt_filter.list_rules()]


@router.post("/prompt-filter", response_model=PromptFilterOut, status_code=status.HTTP_201_CREATED)
def add_rule(body: PromptFilterIn, admin: Admin) -> PromptFilterOut:
    """A word or phrase (matched as whole words, any case) or a regular expression that no prompt
    may contain: POST /generations and new prompts are refused with a 422 naming the rule."""
    try:
        return PromptFilterOut.model_validate(prompt_filter.add_rule(body.pattern, body.is_regex, admin.name),
                                              from_attributes=True)  # fmt: skip
    except prompt_filter.RuleInvalid as exc:
        raise unprocessable(str(exc), "body", "pattern") from exc


@router.delete("/prompt-filter/{rule_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_rule(rule_id: Id, _: Admin) -> Response:
    try:
        prompt_filter.delete_rule(rule_id)
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/prompt-filter/apply", response_model=PromptFilterApplied)
def apply_rules(_: Admin, settings: AppSettings) -> PromptFilterApplied:
    """Retire every active prompt the filter refuses now (prompts added or imported before a rule)."""
    try:
        refused = prompt_filter.apply_to_prompts(settings)
    except prompt_filter.ClassifierUnavailable as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from exc
    return PromptFilterApplied(retired=[{"id": i, "text": t, "reason": r} for i, t, r in refused])


@router.get("/alerts", response_model=list[AlertEventOut])
def list_alerts(_: Admin, limit: int = Query(50, ge=1, le=1000)) -> list[AlertEventOut]:
    """What operators were told, newest first (rounds, verdicts, broken checkpoints, the pool empty,
    flagged labelers), with each webhook delivery's state: what was posted, what is retried and why."""
    return [AlertEventOut.model_validate(e) for e in alerts.recent(limit)]
