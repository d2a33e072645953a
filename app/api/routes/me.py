"""The labeler calling: who they are, their vote counter, and a new token for themselves."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import AppSettings, CurrentLabeler
from app.api.schemas.labelers import LabelerCreated
from app.api.schemas.me import MeOut
from core.services import campaigns, labelers
from core.services.campaigns import Membership
from core.services.labelers import votes_cast
from core.states import Role

router = APIRouter(prefix="/me", tags=["labeling"])


@router.get("", response_model=MeOut)
def me(labeler: CurrentLabeler) -> MeOut:
    return MeOut(id=labeler.id, name=labeler.name, role=labeler.role.value, votes=votes_cast(labeler.id))


@router.post("/token", response_model=LabelerCreated)
def rotate_my_token(labeler: CurrentLabeler, settings: AppSettings) -> LabelerCreated:
    """Swap your token for a new one (the old one stops working at once); the answer holds the new
    token and its login link."""
    updated, token = labelers.rotate_token(labeler.id)
    link = labelers.login_url(settings, token, updated.role == Role.admin)
    return LabelerCreated(id=updated.id, name=updated.name, role=updated.role.value, active=updated.active,
                          token=token, login_url=link)  # fmt: skip


@router.get("/campaigns", response_model=list[Membership])
def my_campaigns(labeler: CurrentLabeler) -> list[Membership]:
    """The campaigns you label for, with the share of your pairs each gets."""
    return campaigns.campaigns_of(labeler.id)
