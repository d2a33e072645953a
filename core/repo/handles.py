"""Serve handles: the name a labeler is given for a comparison served to them, in place of its row id.

Row ids tell creation order: gold pairs are made first and live long, and evaluation pairs come in
batches, so a labeler who saw ids could tell them from train pairs and answer those carefully. A
handle is a random token (128 bits from `secrets`), stored with the pair and the labeler it was made
for: it carries no order and cannot be guessed, and it names the pair only for that labeler. One
handle per labeler and pair: a pair served again (a lease renewed, a page reloaded) keeps its handle,
so a vote queued under it still counts, once.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db.models import ServeHandle
from core.db.session import insert_for

HANDLE_BYTES = 16
HANDLE_PATTERN = r"^[A-Za-z0-9_-]{22}$"  # secrets.token_urlsafe(HANDLE_BYTES): 22 URL-safe characters


def handle_for(session: Session, comparison_id: int, labeler_id: int) -> str:
    """This labeler's handle for this comparison: made on the first serve, the same one after."""
    made = session.execute(
        insert_for(session, ServeHandle)
        .values(token=secrets.token_urlsafe(HANDLE_BYTES), comparison_id=comparison_id, labeler_id=labeler_id,
                created_at=datetime.now(UTC))
        .on_conflict_do_nothing(index_elements=["comparison_id", "labeler_id"])
        .returning(ServeHandle.token)
    ).scalar()  # fmt: skip
    if made is not None:
        return made
    # Served before (on Postgres a concurrent first serve is committed by now: ON CONFLICT waited for it).
    return session.scalar(
        select(ServeHandle.token).where(ServeHandle.comparison_id == comparison_id,
                                        ServeHandle.labeler_id == labeler_id)
    )  # fmt: skip


def holder(session: Session, handle: str) -> tuple[int, int] | None:
    """(comparison id, labeler id) of a handle, or None for one never given out."""
    row = session.execute(
        select(ServeHandle.comparison_id, ServeHandle.labeler_id).where(ServeHandle.token == handle)
    ).first()
    return None if row is None else (row.comparison_id, row.labeler_id)


def comparisons_of(session: Session, labeler_id: int, handles: Iterable[str]) -> list[int]:
    """The comparisons these handles name for this labeler; other labelers' and unknown handles name none."""
    wanted = list(handles)
    if not wanted:
        return []
    return list(session.scalars(
        select(ServeHandle.comparison_id).where(ServeHandle.token.in_(wanted), ServeHandle.labeler_id == labeler_id)
    ))  # fmt: skip
