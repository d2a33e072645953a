"""Admin: labelers and prompts."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, HTTPException, status

from app.api.deps import Admin, AppSettings, Id
from app.api.errors import unprocessable
from core.db.models import Labeler
from core.schemas.api import (
    LabelerCreated,
    LabelerIn,
    LabelerOut,
    LabelerPatch,
    LabelerStatsOut,
    PromptsAdded,
    PromptsIn,
)
from core.services import labelers, prompts
from core.services.labeler_stats import labeler_stats
from core.states import PromptSource

router = APIRouter(prefix="/admin", tags=["admin"])


def labeler_out(labeler: Labeler) -> LabelerOut:
    return LabelerOut(id=labeler.id, name=labeler.name, role=labeler.role.value, active=labeler.active)


@router.post("/labelers", response_model=LabelerCreated, status_code=status.HTTP_201_CREATED)
def create(body: LabelerIn, _: Admin, settings: AppSettings) -> LabelerCreated:
    try:
        labeler, token = labelers.create_labeler(body.name, admin=body.admin)
    except labelers.NameTaken as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    return LabelerCreated(**labeler_out(labeler).model_dump(), token=token,
                          login_url=labelers.login_url(settings, token))  # fmt: skip


@router.get("/labelers", response_model=list[LabelerOut])
def list_labelers(_: Admin) -> list[LabelerOut]:
    return [labeler_out(x) for x in labelers.list_labelers()]


@router.get("/labelers/stats", response_model=list[LabelerStatsOut])
def labelers_stats(_: Admin) -> list[LabelerStatsOut]:
    """Per labeler: votes (all, last hour), median decision time, shares of ties, both-bad and skips,
    and agreement with the other labelers' majority where a pair has several votes."""
    return [LabelerStatsOut(**asdict(s)) for s in labeler_stats()]


@router.patch("/labelers/{labeler_id}", response_model=LabelerOut)
def patch(labeler_id: Id, body: LabelerPatch, admin: Admin) -> LabelerOut:
    try:
        return labeler_out(labelers.set_active(labeler_id, body.active, by=admin))
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
                          login_url=labelers.login_url(settings, token))  # fmt: skip


@router.post("/prompts", response_model=PromptsAdded, status_code=status.HTTP_201_CREATED)
def add_prompts(body: PromptsIn, _: Admin) -> PromptsAdded:
    try:
        added, skipped = prompts.add_prompts(body.prompts, source=PromptSource.admin, for_eval=body.for_eval)
    except prompts.PromptsBusy as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    except ValueError as exc:
        raise unprocessable(str(exc), "body", "prompts") from exc
    return PromptsAdded(added=added, skipped=skipped)
