"""Retraction: which checkpoints a labeler's votes went into, and where to rebuild from.

Every checkpoint records the votes it trained on per labeler (`metrics.labeler_votes`). A checkpoint
is built on a labeler's votes when it trained on them or descends from one that did (it started
from those weights). A rebuild starts from the newest checkpoint on the serving one's line that is
untouched (at worst the base): `{"start_from": rebuild_from}` in a round's config.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from core.db.models import Checkpoint, Labeler
from core.db.session import session_scope
from core.services import campaigns
from core.services.campaigns import DEFAULT
from core.states import BASE_CHECKPOINT_ID


@dataclass(frozen=True)
class Rebuild:
    """A campaign whose serving checkpoint is built on the labeler's votes, and where its rebuild starts."""

    campaign: str
    serving_id: int
    rebuild_from: int  # the newest untouched checkpoint on its serving one's line


@dataclass(frozen=True)
class Lineage:
    """Where a labeler's votes went: retract them by rebuilding from `rebuild_from` (the default campaign;
    `rebuilds` lists every campaign whose serving checkpoint is affected, default included)."""

    labeler_id: int
    trained_on: dict[int, int]  # checkpoint id → this labeler's votes it trained on
    built_on: list[int]  # those and their descendants
    serving_affected: bool  # what serves the default campaign
    rebuild_from: int  # the newest untouched checkpoint on the default campaign's serving one's line
    rebuilds: list[Rebuild]


def lineage(labeler_id: int) -> Lineage:
    """LookupError for an unknown labeler."""
    with session_scope() as session:
        if session.get(Labeler, labeler_id) is None:
            raise LookupError(f"labeler {labeler_id} does not exist")
        rows = session.execute(select(Checkpoint.id, Checkpoint.parent_id, Checkpoint.metrics)).all()
        serving = campaigns.serving_checkpoints(session)
    active = serving[DEFAULT]
    parent = {c: p for c, p, _ in rows}
    trained_on = {c: int((m or {}).get("labeler_votes", {}).get(str(labeler_id), 0)) for c, _, m in rows}
    trained_on = {c: n for c, n in trained_on.items() if n}

    def touched(checkpoint_id: int | None) -> bool:
        seen = set()
        while checkpoint_id is not None and checkpoint_id not in seen:
            if checkpoint_id in trained_on:
                return True
            seen.add(checkpoint_id)
            checkpoint_id = parent.get(checkpoint_id)
        return False

    def untouched_ancestor(checkpoint_id: int) -> int:
        while checkpoint_id is not None and touched(checkpoint_id):
            checkpoint_id = parent.get(checkpoint_id)
        return checkpoint_id or BASE_CHECKPOINT_ID

    built_on = sorted(c for c in parent if touched(c))
    rebuilds = [Rebuild(name, checkpoint_id, untouched_ancestor(checkpoint_id))
                for name, checkpoint_id in serving.items() if checkpoint_id in built_on]  # fmt: skip
    return Lineage(labeler_id, trained_on, built_on, active in built_on, untouched_ancestor(active), rebuilds)
