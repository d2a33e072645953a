"""This install's secret (made by migration 0004, kept in the database with the data) and the keyed
digests it makes: what a labeler must not be able to work out from public ids."""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db.models import Install

_secrets: dict[str, bytes] = {}  # per database: read once per process


def install_secret(session: Session) -> bytes:
    url = session.get_bind().url.render_as_string(hide_password=False)
    if url not in _secrets:
        _secrets[url] = bytes.fromhex(session.scalar(select(Install.secret).where(Install.id == 1)))
    return _secrets[url]


def keyed_digest(session: Session, message: str) -> bytes:
    """HMAC-SHA256 of `message` under the install's secret."""
    return hmac.new(install_secret(session), message.encode(), hashlib.sha256).digest()
