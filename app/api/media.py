"""Generated images, served only through signed links that expire (core/services/media.py), or handed out
as the object store's own pre-signed URLs."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, HTTPException, Path, Query, status
from fastapi.responses import FileResponse, Response

from core.services import media
from core.settings import get_settings
from core.storage import MEDIA, StoreUnavailable, storage

MEDIA_PREFIX = "/media"
CACHING = {"Cache-Control": "private, max-age=3600"}
router = APIRouter(tags=["media"])


def media_url(relpath: str) -> str:
    """A link that expires: the API's own (signed with the install's secret), or the object store's
    pre-signed URL (DPOLOOP_MEDIA_LINKS=presigned: the images never pass through the API)."""
    settings = get_settings()
    if settings.media_links == "presigned":
        return storage(settings).presigned_url(f"{MEDIA}/{relpath}", media.LINK_TTL_S)
    return f"{MEDIA_PREFIX}/{relpath}?{media.signed_query(relpath)}"


def media_origins(settings) -> tuple[str, ...]:
    """Where else than this origin browsers fetch images from: the store's, for pre-signed URLs."""
    if settings.media_links != "presigned":
        return ()
    link = urlsplit(storage(settings).presigned_url(f"{MEDIA}/origin.png", 60))  # signed locally, no request
    return (f"{link.scheme}://{link.netloc}",)


@router.get(MEDIA_PREFIX + "/{name}", response_class=FileResponse, include_in_schema=False)
def image(
    name: Annotated[str, Path(pattern=r"^[0-9a-f]{32}\.png$")],
    exp: Annotated[int, Query(ge=0, le=2**62)],
    sig: Annotated[str, Query(pattern=r"^[0-9a-f]{32}$")],
) -> Response:
    """404 for a link that is wrong, expired, or names no file: nothing tells them apart; 503 while the
    object store holding the images cannot be reached."""
    store, key = storage(get_settings()), f"{MEDIA}/{name}"
    missing = HTTPException(status.HTTP_404_NOT_FOUND, "no such image, or the link has expired")
    if not media.link_is_valid(name, exp, sig):
        raise missing
    if store.local:
        path = store.local_file(key)
        if not path.is_file():
            raise missing
        return FileResponse(path, media_type="image/png", headers=CACHING)
    try:
        return Response(store.read_bytes(key), media_type="image/png", headers=CACHING)
    except FileNotFoundError as exc:
        raise missing from exc
    except StoreUnavailable as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the image store is unreachable; retry shortly",
                            headers={"Retry-After": "2"}) from exc  # fmt: skip
