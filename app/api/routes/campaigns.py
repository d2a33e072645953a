"""Admin: campaigns — several loops on one install, each with its question, guidelines and labelers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status

from app.api.deps import Admin, AppSettings, Id
from app.api.errors import unprocessable
from app.api.schemas.campaigns import CAMPAIGN_NAME, CampaignIn, CampaignPatch, MemberIn
from core.services import campaigns, rounds
from core.services.campaigns import CampaignView, Member

router = APIRouter(prefix="/admin/campaigns", tags=["admin"])

Name = Annotated[str, Path(pattern=CAMPAIGN_NAME, description="The campaign's name.")]


def refused(exc: Exception) -> HTTPException:
    """The service's refusal as an HTTP answer with its reason."""
    if isinstance(exc, LookupError):
        return HTTPException(status.HTTP_404_NOT_FOUND, str(exc))
    return HTTPException(status.HTTP_409_CONFLICT, str(exc))


@router.get("", response_model=list[CampaignView])
def list_campaigns(_: Admin, archived: Annotated[bool, Query(description="include archived ones")] = False
                   ) -> list[CampaignView]:  # fmt: skip
    return campaigns.list_campaigns(archived)


@router.post("", response_model=CampaignView, status_code=status.HTTP_201_CREATED,
             responses={409: {"description": "A campaign with this name exists."}})  # fmt: skip
def create(body: CampaignIn, admin: Admin) -> CampaignView:
    try:
        return campaigns.create(body.name, body.description, body.open_to_all, admin.name)
    except campaigns.CampaignExists as exc:
        raise refused(exc) from exc


@router.get("/{name}", response_model=CampaignView)
def read(name: Name, _: Admin) -> CampaignView:
    return campaigns.get(name)


@router.patch("/{name}", response_model=CampaignView,
              responses={409: {"description": "The campaign is archived."}})  # fmt: skip
def update(name: Name, body: CampaignPatch, _: Admin, settings: AppSettings) -> CampaignView:
    """Changes its description, whether every labeler takes part (closing `default` leaves it to the
    labelers assigned to it), or the DPO settings its rounds start from (checked as a round's config is)."""
    try:
        if body.round_defaults is not None:
            rounds.set_round_defaults(settings, name, body.round_defaults)
        return campaigns.update(name, body.description, body.open_to_all)
    except rounds.InvalidRoundConfig as exc:
        raise unprocessable(str(exc), "body", "round_defaults") from exc
    except campaigns.CampaignRefused as exc:
        raise refused(exc) from exc


@router.post("/{name}/archive", response_model=CampaignView,
             responses={409: {"description": "The default campaign cannot be archived."}})  # fmt: skip
def archive(name: Name, _: Admin) -> CampaignView:
    """Its labelers get no more pairs from it; its data stays."""
    try:
        return campaigns.archive(name)
    except campaigns.CampaignRefused as exc:
        raise refused(exc) from exc


@router.get("/{name}/labelers", response_model=list[Member])
def members(name: Name, _: Admin) -> list[Member]:
    return campaigns.members(name)


@router.put("/{name}/labelers/{labeler_id}", response_model=Member,
            responses={409: {"description": "The campaign is archived."}})  # fmt: skip
def assign(name: Name, labeler_id: Id, body: MemberIn, admin: Admin) -> Member:
    """Puts a labeler in the campaign with a share of their pairs, or changes the share."""
    try:
        return campaigns.assign(name, labeler_id, body.share, admin.name)
    except (campaigns.UnknownLabeler, campaigns.CampaignRefused) as exc:
        raise refused(exc) from exc


@router.delete("/{name}/labelers/{labeler_id}", status_code=status.HTTP_204_NO_CONTENT)
def unassign(name: Name, labeler_id: Id, _: Admin) -> None:
    """Takes a labeler out of the campaign; the votes they cast in it stay."""
    try:
        campaigns.unassign(name, labeler_id)
    except campaigns.UnknownLabeler as exc:
        raise refused(exc) from exc
