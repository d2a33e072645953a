"""Labelers and their bearer tokens (stored as SHA-256: tokens are random, 192 bits, so no salt is needed)."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db.models import Labeler
from core.states import Role


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_labeler(session: Session, name: str, admin: bool = False, ai: bool = False) -> tuple[Labeler, str]:
    """A new labeler and its token (shown once: only the hash is stored)."""
    token = secrets.token_urlsafe(24)
    labeler = Labeler(name=name, role=Role.admin if admin else Role.labeler, token_hash=hash_token(token), active=True,
                      is_ai=ai)  # fmt: skip
    session.add(labeler)
    session.flush()
    return labeler, token


def by_token(session: Session, token: str) -> Labeler | None:
    labeler = session.scalars(select(Labeler).where(Labeler.token_hash == hash_token(token))).first()
    return labeler if labeler is not None and labeler.active else None


def by_name(session: Session, name: str) -> Labeler | None:
    return session.scalars(select(Labeler).where(Labeler.name == name)).first()


def rotate_token(labeler: Labeler) -> str:
    """A new token for this labeler; the old one stops working."""
    token = secrets.token_urlsafe(24)
    labeler.token_hash = hash_token(token)
    return token
