"""Request dependencies: a database session per request and bearer-token authentication."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Path, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from app.db.models import Labeler, Role
from app.db.session import new_session
from app.repo.labelers import by_token
from app.schemas.text import MAX_DB_INT
from app.settings import Settings, get_settings

bearer = HTTPBearer(auto_error=False, description="A labeler's token, from `dpoloop labelers create`.")


def db_session() -> Iterator[Session]:
    session = new_session()
    try:
        yield session
    finally:
        session.close()


DB = Annotated[Session, Depends(db_session)]
AppSettings = Annotated[Settings, Depends(get_settings)]


def current_labeler(db: DB, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Labeler:
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "missing bearer token", headers={"WWW-Authenticate": "Bearer"}
        )
    labeler = by_token(db, credentials.credentials)
    if labeler is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "unknown or disabled token", headers={"WWW-Authenticate": "Bearer"}
        )
    return labeler


CurrentLabeler = Annotated[Labeler, Depends(current_labeler)]


def require_admin(labeler: CurrentLabeler) -> Labeler:
    if labeler.role != Role.admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this needs an admin token")
    return labeler


Admin = Annotated[Labeler, Depends(require_admin)]


# A path id: an integer the database can hold (beyond it Postgres would fail with a 500).
Id = Annotated[int, Path(ge=1, le=MAX_DB_INT, description="A database id.")]
