"""Image links that expire: an image is fetched only through a link the API handed out lately, so a
file name seen once (in a log, a shared screenshot) does not open the media store to anyone."""

from __future__ import annotations

import hmac
import time

from core.db.session import read_scope
from core.repo.install import keyed_digest

LINK_TTL_S = 3600  # long enough for a pair on screen, its prefetch and a client's download


def _signature(session, relpath: str, expires: int) -> str:
    return keyed_digest(session, f"media:{relpath}:{expires}")[:16].hex()


def signed_query(relpath: str, ttl_s: int = LINK_TTL_S) -> str:
    """The query string that lets `relpath` be fetched for the next ttl_s seconds."""
    expires = int(time.time()) + ttl_s
    with read_scope() as session:
        return f"exp={expires}&sig={_signature(session, relpath, expires)}"


def link_is_valid(relpath: str, expires: int, signature: str) -> bool:
    if expires < time.time():
        return False
    with read_scope() as session:
        return hmac.compare_digest(_signature(session, relpath, expires), signature)
