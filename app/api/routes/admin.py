"""Admin: labelers and prompts."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.api.deps import DB, Admin, AppSettings, Id
from app.db.models import Labeler
from app.repo.labelers import by_name, create_labeler
from app.repo.prompts import add_prompts
from app.schemas.api import LabelerCreated, LabelerIn, LabelerOut, LabelerPatch, PromptsAdded, PromptsIn

router = APIRouter(prefix="/admin", tags=["admin"])


def login_url(base_url: str, token: str) -> str:
    return f"{base_url}/#token={token}"


@router.post("/labelers", response_model=LabelerCreated, status_code=status.HTTP_201_CREATED)
def create(body: LabelerIn, _: Admin, db: DB, settings: AppSettings) -> LabelerCreated:
    if by_name(db, body.name) is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, f"a labeler named {body.name!r} exists")
    try:
        labeler, token = create_labeler(db, body.name, admin=body.admin)
        db.commit()
    except IntegrityError as exc:  # created concurrently under the same name
        raise HTTPException(status.HTTP_409_CONFLICT, f"a labeler named {body.name!r} exists") from exc
    return LabelerCreated(id=labeler.id, name=labeler.name, role=labeler.role.value, active=True, token=token,
                          login_url=login_url(settings.base_url, token))  # fmt: skip


@router.get("/labelers", response_model=list[LabelerOut])
def list_labelers(_: Admin, db: DB) -> list[LabelerOut]:
    return [
        LabelerOut(id=x.id, name=x.name, role=x.role.value, active=x.active)
        for x in db.scalars(select(Labeler).order_by(Labeler.id))
    ]


@router.patch("/labelers/{labeler_id}", response_model=LabelerOut)
def patch(labeler_id: Id, body: LabelerPatch, admin: Admin, db: DB) -> LabelerOut:
    labeler = db.get(Labeler, labeler_id)
    if labeler is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"labeler {labeler_id} does not exist")
    if labeler.id == admin.id and not body.active:
        raise HTTPException(status.HTTP_409_CONFLICT, "an admin cannot disable their own token")
    labeler.active = body.active
    db.commit()
    return LabelerOut(id=labeler.id, name=labeler.name, role=labeler.role.value, active=labeler.active)


@router.post("/prompts", response_model=PromptsAdded, status_code=status.HTTP_201_CREATED)
def prompts(body: PromptsIn, _: Admin, db: DB) -> PromptsAdded:
    try:
        added, skipped = add_prompts(db, body.prompts, source="admin", for_eval=body.for_eval)
        db.commit()
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    except IntegrityError as exc:  # the same prompts were added concurrently
        raise HTTPException(status.HTTP_409_CONFLICT, "these prompts were being added concurrently; retry") from exc
    return PromptsAdded(added=added, skipped=skipped)
