"""Labelers: create them, list and disable them, sign them in by token."""

from __future__ import annotations

import os

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from core.db.models import Labeler, Vote
from core.db.session import read_scope, session_scope
from core.repo import labelers as repo
from core.settings import Settings


class NameTaken(ValueError):
    """A labeler with this name exists."""


class NameReserved(ValueError):
    """A person's account under a name kept for AI labelers."""


class WrongKind(ValueError):
    """A local tool asked for its account (AI or not) by a name that a labeler of the other kind holds."""


class SelfDisable(ValueError):
    """An admin tried to disable their own token."""


# `dpoloop ai-label` names its account ai-<judge>: no person may hold such a name, or the judge would
# sign in as them and its votes would count as a person's.
AI_PREFIX = "ai-"


def login_url(settings: Settings, token: str, admin: bool = False) -> str:
    """The link that signs a labeler in (the UI reads the token from the fragment); an admin's opens
    the admin console, which links to the labeling UI (same token)."""
    return f"{settings.base_url}{'/admin/' if admin else '/'}#token={token}"


def create_labeler(name: str, admin: bool = False, ai: bool = False) -> tuple[Labeler, str]:
    """A new labeler and its token (shown once: only the hash is stored); NameTaken if the name is used,
    NameReserved for a person named like an AI account. An AI labeler is an automatic judge voting
    through the API (`dpoloop ai-label`)."""
    if not ai and name.lower().startswith(AI_PREFIX):
        raise NameReserved(f"names starting with {AI_PREFIX!r} are kept for AI labelers (dpoloop ai-label)")
    try:
        with session_scope() as session:
            if repo.by_name(session, name) is not None:
                raise NameTaken(f"a labeler named {name!r} exists")
            return repo.create_labeler(session, name, admin=admin, ai=ai)
    except IntegrityError as exc:  # created concurrently under the same name
        raise NameTaken(f"a labeler named {name!r} exists") from exc


def list_labelers() -> list[Labeler]:
    with session_scope() as session:
        return list(session.scalars(select(Labeler).order_by(Labeler.id)))


def set_active(labeler_id: int, active: bool, by: Labeler) -> Labeler:
    """Enable or disable a labeler's token; LookupError if there is none, SelfDisable for one's own."""
    with session_scope() as session:
        labeler = session.get(Labeler, labeler_id)
        if labeler is None:
            raise LookupError(f"labeler {labeler_id} does not exist")
        if labeler.id == by.id and not active:
            raise SelfDisable("an admin cannot disable their own token")
        labeler.active = active
        return labeler


def get_labeler(labeler_id: int) -> Labeler:
    with session_scope() as session:
        labeler = session.get(Labeler, labeler_id)
    if labeler is None:
        raise LookupError(f"labeler {labeler_id} does not exist")
    return labeler


def authenticate(token: str) -> Labeler | None:
    """The active labeler holding this token, or None (one statement, no transaction: every request
    asks this)."""
    with read_scope() as session:
        return repo.by_token(session, token)


def votes_cast(labeler_id: int) -> int:
    with session_scope() as session:
        return session.scalar(select(func.count(Vote.id)).where(Vote.labeler_id == labeler_id)) or 0


def first_logins(settings: Settings) -> list[str]:
    """On a first start (no labelers yet) create an admin and a labeler and keep their login links
    in the data dir; returns the links kept there (empty once the file is removed)."""
    logins_file = settings.data_dir / "first-logins.txt"
    with session_scope() as session:
        if session.scalar(select(func.count(Labeler.id))) == 0:
            lines = []
            for name, admin in (("admin", True), ("labeler", False)):
                _, token = repo.create_labeler(session, name, admin=admin)
                lines.append(f"{name:8} {login_url(settings, token, admin)}")
            # Made unreadable to others before a byte of it exists: it holds an admin token.
            fd = os.open(logins_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write("\n".join(lines) + "\n")
    return logins_file.read_text().splitlines() if logins_file.exists() else []


def rotate_token(labeler_id: int) -> tuple[Labeler, str]:
    """A new token for this labeler; the old one stops working at once. LookupError if there is none."""
    with session_scope() as session:
        labeler = session.get(Labeler, labeler_id)
        if labeler is None:
            raise LookupError(f"labeler {labeler_id} does not exist")
        return labeler, repo.rotate_token(labeler)


def fresh_token(name: str, ai: bool = False) -> str:
    """A new token for the labeler `name` of this kind (AI or not), created on first use (local tools:
    simulated and AI labelers). WrongKind when a labeler of the other kind holds the name: their token
    stays as it is."""
    with session_scope() as session:
        labeler = repo.by_name(session, name)
        if labeler is None:
            return repo.create_labeler(session, name, ai=ai)[1]
        if labeler.is_ai != ai:
            kind = "an AI labeler" if labeler.is_ai else "a human labeler"
            raise WrongKind(f"{name} is {kind}, not {'an AI' if ai else 'a human'} one: its token is left alone")
        return repo.rotate_token(labeler)
