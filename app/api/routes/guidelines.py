"""The guidelines: any labeler reads them (the labeling page shows them on a first visit and after a
change); admins set them, each save a new version."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, HTTPException, status

from app.api.deps import Admin, CurrentLabeler
from app.api.schemas.guidelines import GuidelinesIn, GuidelinesOut
from core.services import guidelines

router = APIRouter(tags=["labeling"])


@router.get("/guidelines", response_model=GuidelinesOut)
def read(_: CurrentLabeler) -> GuidelinesOut:
    """The current question and guidelines (version 0 and the default question before an admin sets any)."""
    return GuidelinesOut(**asdict(guidelines.current()))


@router.put("/admin/guidelines", response_model=GuidelinesOut, tags=["admin"],
            responses={409: {"description": "Another admin saved a version at the same moment."}})  # fmt: skip
def save(body: GuidelinesIn, admin: Admin) -> GuidelinesOut:
    """A new version: labelers see it on their next pair, and their votes name it."""
    try:
        return GuidelinesOut(**asdict(guidelines.set_guidelines(body.question, body.body, admin.name)))
    except guidelines.GuidelinesConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
