"""Request dependencies: settings, bearer-token authentication and path ids."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from core.db.models import Labeler
from core.schemas.text import MAX_DB_INT
from core.services.labelers import authenticate
from core.settings import Settings, get_settings
from core.states import Role

bearer = HTTPBearer(auto_error=False, description="A labeler's token, from `dpoloop labelers create`.")


# The dependencies that need no I/O are async: FastAPI runs a plain def in a worker thread, and the
# labeling hot paths would pay a thread hop for each of them.


async def app_settings() -> Settings:
    return get_settings()


AppSettings = Annotated[Settings, Depends(app_settings)]


async def current_labeler(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Labeler:
    if getattr(request.state, "labeler", None) is not None:  # found by the guard before the body was read
        return request.state.labeler
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "missing bearer token", headers={"WWW-Authenticate": "Bearer"}
        )
    labeler = await run_in_threadpool(authenticate, credentials.credentials)
    if labeler is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "unknown or disabled token", headers={"WWW-Authenticate": "Bearer"}
        )
    return labeler


CurrentLabeler = Annotated[Labeler, Depends(current_labeler)]


async def require_admin(labeler: CurrentLabeler) -> Labeler:
    if labeler.role != Role.admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this needs an admin token")
    return labeler


Admin = Annotated[Labeler, Depends(require_admin)]


# A path id: an integer the database can hold (beyond it Postgres would fail with a 500).
Id = Annotated[int, Path(ge=1, le=MAX_DB_INT, description="A database id.")]
