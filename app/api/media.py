"""Generated images, served only through signed links that expire (core/services/media.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status
from fastapi.responses import FileResponse

from core.services import media
from core.settings import get_settings

MEDIA_PREFIX = "/media"
router = APIRouter(tags=["media"])


def media_url(relpath: str) -> str:
    return f"{MEDIA_PREFIX}/{relpath}?{media.signed_query(relpath)}"


@router.get(MEDIA_PREFIX + "/{name}", response_class=FileResponse, include_in_schema=False)
def image(
    name: Annotated[str, Path(pattern=r"^[0-9a-f]{32}\.png$")],
    exp: Annotated[int, Query(ge=0, le=2**62)],
    sig: Annotated[str, Query(pattern=r"^[0-9a-f]{32}$")],
) -> FileResponse:
    """404 for a link that is wrong, expired, or names no file: nothing tells them apart."""
    path = get_settings().media_dir / name
    if not media.link_is_valid(name, exp, sig) or not path.is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such image, or the link has expired")
    return FileResponse(path, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})
