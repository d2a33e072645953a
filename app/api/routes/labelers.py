"""Admin: labelers — their tokens, how they label, whose votes train, and where those votes went."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from app.api.deps import Admin, AppSettings, Id
from app.api.errors import unprocessable
from app.api.schemas.campaigns import CampaignName
from app.api.schemas.labelers import LabelerCreated, LabelerIn, LabelerOut, LabelerPatch
from core.db.models import Labeler
from core.services import labelers, lineage, quality
from core.services.labeler_stats import LabelerStats, labeler_stats
from core.services.lineage import Lineage
from core.services.quality import LabelerQuality
from core.states import Role

router = APIRouter(prefix="/admin/labelers", tags=["admin"])


def labeler_out(labeler: Labeler) -> LabelerOut:
    return LabelerOut(id=labeler.id, name=labeler.name, role=labeler.role.value, active=labeler.active,
                      ai=labeler.is_ai, standing=labeler.standing_override or "auto")  # fmt: skip


@router.post("", response_model=LabelerCreated, status_code=status.HTTP_201_CREATED)
def create(body: LabelerIn, _: Admin, settings: AppSettings) -> LabelerCreated:
    try:
        labeler, token = labelers.create_labeler(body.name, admin=body.admin)
    except labelers.NameTaken as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    except labelers.NameReserved as exc:
        raise unprocessable(str(exc), "body", "name") from exc
    return LabelerCreated(**labeler_out(labeler).model_dump(), token=token,
                          login_url=labelers.login_url(settings, token, body.admin))  # fmt: skip


@router.get("", response_model=list[LabelerOut])
def list_labelers(_: Admin) -> list[LabelerOut]:
    return [labeler_out(x) for x in labelers.list_labelers()]


NO_CAMPAIGN = {404: {"description": "No campaign has this name."}}


@router.get("/stats", response_model=list[LabelerStats], responses=NO_CAMPAIGN)
def labelers_stats(_: Admin, campaign: CampaignName | None = None) -> list[LabelerStats]:
    """Per labeler: votes (all, last hour), median decision time, shares of ties, both-bad and skips,
    and agreement with the other labelers' majority where a pair has several votes. With `campaign`:
    its labelers, counted on its pairs only."""
    return labeler_stats(campaign)


@router.get("/quality", response_model=list[LabelerQuality], responses=NO_CAMPAIGN)
def labeler_quality(_: Admin, settings: AppSettings, campaign: CampaignName | None = None) -> list[LabelerQuality]:
    """Per labeler: gold accuracy with its interval, side bias, agreement with the majority,
    Krippendorff's alpha without them, fast decisions, pass rates, and whether their votes train
    (good_standing, with the reasons when not). With `campaign`: its labelers' figures on its pairs
    (its gold pairs, agreement on its question); standing is still judged on every vote they gave."""
    return quality.quality(settings, campaign).labelers


@router.get("/{labeler_id}/lineage", response_model=Lineage)
def labeler_lineage(labeler_id: Id, _: Admin) -> Lineage:
    """The checkpoints built on this labeler's votes, and the newest untouched one to rebuild from
    (start a round with `{"config": {"start_from": rebuild_from}}`)."""
    try:
        return lineage.lineage(labeler_id)
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc


@router.patch("/{labeler_id}", response_model=LabelerOut)
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


@router.post("/{labeler_id}/token", response_model=LabelerCreated)
def rotate_token(labeler_id: Id, _: Admin, settings: AppSettings) -> LabelerCreated:
    """A new token for a labeler (a lost or leaked one); the old token stops working at once."""
    try:
        labeler, token = labelers.rotate_token(labeler_id)
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    return LabelerCreated(**labeler_out(labeler).model_dump(), token=token,
                          login_url=labelers.login_url(settings, token, labeler.role == Role.admin))  # fmt: skip
