"""The guidelines: any labeler reads them (the labeling page shows them on a first visit and after a
change); admins set them, each save a new version."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from app.api.deps import Admin, CurrentLabeler
from app.api.schemas.guidelines import GuidelinesIn
from core.services import guidelines
from core.services.guidelines import CurrentGuidelines

router = APIRouter(tags=["labeling"])


@router.get("/guidelines", response_model=CurrentGuidelines)
def read(_: CurrentLabeler) -> CurrentGuidelines:
    """The current question and guidelines (version 0 and the default question before an admin sets any)."""
    return guidelines.current()


@router.put("/admin/guidelines", response_model=CurrentGuidelines, tags=["admin"],
            responses={409: {"description": "Another admin saved a version at the same moment."}})  # fmt: skip
def save(body: GuidelinesIn, admin: Admin) -> CurrentGuidelines:
    """A new version: labelers see it on their next pair, and their votes name it."""
    try:
        return guidelines.set_guidelines(body.question, body.body, admin.name)
    except guidelines.GuidelinesConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
