"""Admin: labelers and prompts."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, HTTPException, Query, status

from app.api.deps import Admin, AppSettings, Id
from app.api.errors import unprocessable
from core.db.models import Labeler
from core.repo.prompts import PromptUsage
from core.schemas.api import (
    LabelerCreated,
    LabelerIn,
    LabelerOut,
    LabelerPatch,
    LabelerQualityOut,
    LabelerStatsOut,
    LineageOut,
    PromptOut,
    PromptPatch,
    PromptsAdded,
    PromptsIn,
)
from core.services import labelers, lineage, prompts, quality
from core.services.labeler_stats import labeler_stats
from core.services.prompt_filter import ClassifierUnavailable
from core.states import PromptSource, Role

router = APIRouter(prefix="/admin", tags=["admin"])


def labeler_out(labeler: Labeler) -> LabelerOut:
    return LabelerOut(id=labeler.id, name=labeler.name, role=labeler.role.value, active=labeler.active,
                      ai=labeler.is_ai, standing=labeler.standing_override or "auto")  # fmt: skip


@router.post("/labelers", response_model=LabelerCreated, status_code=status.HTTP_201_CREATED)
def create(body: LabelerIn, _: Admin, settings: AppSettings) -> LabelerCreated:
    try:
        labeler, token = labelers.create_labeler(body.name, admin=body.admin)
    except labelers.NameTaken as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    except labelers.NameReserved as exc:
        raise unprocessable(str(exc), "body", "name") from exc
    return LabelerCreated(**labeler_out(labeler).model_dump(), token=token,
                          login_url=labelers.login_url(settings, token, body.admin))  # fmt: skip


@router.get("/labelers", response_model=list[LabelerOut])
def list_labelers(_: Admin) -> list[LabelerOut]:
    return [labeler_out(x) for x in labelers.list_labelers()]


@router.get("/labelers/stats", response_model=list[LabelerStatsOut])
def labelers_stats(_: Admin) -> list[LabelerStatsOut]:
    """Per labeler: votes (all, last hour), median decision time, shares of ties, both-bad and skips,
    and agreement with the other labelers' majority where a pair has several votes."""
    return [LabelerStatsOut(**asdict(s)) for s in labeler_stats()]


@router.get("/labelers/quality", response_model=list[LabelerQualityOut])
def labeler_quality(_: Admin, settings: AppSettings) -> list[LabelerQualityOut]:
    """Per labeler: gold accuracy with its interval, side bias, agreement with the majority,
    Krippendorff's alpha without them, fast decisions, pass rates, and whether their votes train
    (good_standing, with the reasons when not)."""
    report = quality.quality(settings)
    return [LabelerQualityOut(**asdict(row), alpha_all=report.alpha) for row in report.labelers]


@router.get("/labelers/{labeler_id}/lineage", response_model=LineageOut)
def labeler_lineage(labeler_id: Id, _: Admin) -> LineageOut:
    """The checkpoints built on this labeler's votes, and the newest untouched one to rebuild from
    (start a round with `{"config": {"start_from": rebuild_from}}`)."""
    try:
        return LineageOut(**asdict(lineage.lineage(labeler_id)))
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc


@router.patch("/labelers/{labeler_id}", response_model=LabelerOut)
def patch(labeler_id: Id, body: LabelerPatch, admin: Admin) -> LabelerOut:
    """Disable or enable a labeler's token (`active`), or override the quality rules (`standing`:
    good, excluded, auto). GET /admin/labelers/{id}/lineage then lists the checkpoints built on their votes."""
    if body.active is None and body.standing is None:
        raise unprocessable("give `active`, `standing` or both", "body")
    try:
        if body.standing is not None:
            quality.set_override(labeler_id, None if body.standing == "auto" else body.standing)
        labeler = labelers.set_active(labeler_id, body.active, by=admin) if body.active is not None else None
        return labeler_out(labeler or labelers.get_labeler(labeler_id))
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except labelers.SelfDisable as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc


@router.post("/labelers/{labeler_id}/token", response_model=LabelerCreated)
def rotate_token(labeler_id: Id, _: Admin, settings: AppSettings) -> LabelerCreated:
    """A new token for a labeler (a lost or leaked one); the old token stops working at once."""
    try:
        labeler, token = labelers.rotate_token(labeler_id)
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    return LabelerCreated(**labeler_out(labeler).model_dump(), token=token,
                          login_url=labelers.login_url(settings, token, labeler.role == Role.admin))  # fmt: skip


@router.post("/prompts", response_model=PromptsAdded, status_code=status.HTTP_201_CREATED)
def add_prompts(body: PromptsIn, _: Admin) -> PromptsAdded:
    try:
        added, skipped = prompts.add_prompts(body.prompts, source=PromptSource.admin, for_eval=body.for_eval)
    except prompts.PromptsBusy as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    except ValueError as exc:  # a prompt too long, empty, or refused by the prompt filter (named)
        raise unprocessable(str(exc), "body", "prompts") from exc
    except ClassifierUnavailable as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from exc
    return PromptsAdded(added=added, skipped=skipped)


def prompt_out(usage: PromptUsage) -> PromptOut:
    p = usage.prompt
    return PromptOut(id=p.id, text=p.text, source=p.source.value, active=p.active, for_eval=p.for_eval,
                     pairs=usage.pairs, votes=usage.votes, created_at=p.created_at)  # fmt: skip


@router.get("/prompts", response_model=list[PromptOut])
def list_prompts(
    _: Admin, limit: int = Query(500, ge=1, le=10_000), offset: int = Query(0, ge=0, le=10**9)
) -> list[PromptOut]:
    """Prompts, newest first, with the pairs made from them and the votes on those."""
    return [prompt_out(u) for u in prompts.list_prompts(limit, offset)]


@router.patch("/prompts/{prompt_id}", response_model=PromptOut)
def update_prompt(prompt_id: Id, body: PromptPatch, _: Admin) -> PromptOut:
    """Retire (`active: false`: it leaves the pool, its votes stay) or restore a prompt, or move it
    in or out of the fixed evaluation set (`for_eval`)."""
    if body.active is None and body.for_eval is None:
        raise unprocessable("give `active`, `for_eval` or both", "body")
    try:
        return prompt_out(prompts.update_prompt(prompt_id, body.active, body.for_eval))
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
