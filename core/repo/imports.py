"""Imported preference sets and their pairs (see core/services/imports.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db.models import ImportedPair, PreferenceSet
from core.db.session import insert_for
from core.states import DEFAULT_CAMPAIGN_ID, ImportState

BAD_ROWS_KEPT = 100  # the report lists the first ones; the count covers all


class SetNameTaken(ValueError):
    pass


def create_set(session: Session, name: str, source: str, fmt: str, by: str,
               campaign_id: int = DEFAULT_CAMPAIGN_ID) -> PreferenceSet:  # fmt: skip
    if session.scalar(select(PreferenceSet.id).where(PreferenceSet.name == name)) is not None:
        raise SetNameTaken(f"a preference set named {name!r} exists; choose another --name")
    row = PreferenceSet(name=name, source=source, format=fmt, state=ImportState.queued, counts={}, bad_rows=[],
                        requested_by=by, campaign_id=campaign_id)  # fmt: skip
    session.add(row)
    session.flush()
    return row


def set_by_name(session: Session, name: str) -> PreferenceSet | None:
    return session.scalar(select(PreferenceSet).where(PreferenceSet.name == name))


def list_sets(session: Session) -> list[PreferenceSet]:
    return list(session.scalars(select(PreferenceSet).order_by(PreferenceSet.id.desc())))


@dataclass(frozen=True)
class NewPair:
    row_index: int
    caption: str
    winner_latents: str
    loser_latents: str
    row_hash: str


def known_hashes(session: Session, hashes: list[str]) -> set[str]:
    return set(session.scalars(select(ImportedPair.row_hash).where(ImportedPair.row_hash.in_(hashes))))


def add_batch(session: Session, set_id: int, pairs: list[NewPair], rows_done: int, counts: dict,
              bad_rows: list[dict]) -> int:  # fmt: skip
    """One batch's pairs and the set's progress, in the caller's transaction; returns how many pairs
    were new (a row already imported, by this set or another, is counted as a duplicate)."""
    added = 0
    now = datetime.now(UTC)
    for pair in pairs:
        inserted = session.execute(
            insert_for(session, ImportedPair)
            .values(set_id=set_id, row_index=pair.row_index, caption=pair.caption, winner_latents=pair.winner_latents,
                    loser_latents=pair.loser_latents, row_hash=pair.row_hash, created_at=now)
            .on_conflict_do_nothing(index_elements=["row_hash"])
            .returning(ImportedPair.id)
        ).scalar()  # fmt: skip
        added += inserted is not None
    row = session.get(PreferenceSet, set_id)
    totals = dict(row.counts or {})
    batch = counts | {"added": added, "duplicates": counts.get("duplicates", 0) + len(pairs) - added}
    for key, value in batch.items():
        totals[key] = totals.get(key, 0) + value
    row.counts = totals
    row.bad_rows = [*(row.bad_rows or []), *bad_rows][:BAD_ROWS_KEPT]
    row.rows_done = rows_done
    row.attempts = 1  # progress: the start reading the next batch is its first
    return added


