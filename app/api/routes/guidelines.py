"""The guidelines: any labeler reads them (the labeling page shows them on a first visit and after a
change); admins set them, each save a new version."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from app.api.deps import Admin, CurrentLabeler
from app.api.schemas.campaigns import CampaignQuery
from app.api.schemas.guidelines import GuidelinesIn
from core.services import campaigns, guidelines
from core.services.guidelines import CurrentGuidelines
from core.states import Role

router = APIRouter(tags=["labeling"])


@router.get("/guidelines", response_model=CurrentGuidelines,
            responses={403: {"description": "You are not a labeler of this campaign."}})  # fmt: skip
def read(labeler: CurrentLabeler, campaign: CampaignQuery = campaigns.DEFAULT) -> CurrentGuidelines:
    """The current question and guidelines (version 0 and the default question before an admin sets any);
    a campaign's only for its labelers and admins."""
    try:
        return guidelines.current(campaign, None if labeler.role == Role.admin else labeler.id)  # admins read all
    except campaigns.NotInCampaign as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from exc


@router.put("/admin/guidelines", response_model=CurrentGuidelines, tags=["admin"],
            responses={409: {"description": "Another admin saved a version at the same moment."}})  # fmt: skip
def save(body: GuidelinesIn, admin: Admin, campaign: CampaignQuery = campaigns.DEFAULT) -> CurrentGuidelines:
    """A new version: labelers see it on their next pair, and their votes name it."""
    try:
        return guidelines.set_guidelines(body.question, body.body, admin.name, campaign)
    except (guidelines.GuidelinesConflict, campaigns.CampaignRefused) as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
