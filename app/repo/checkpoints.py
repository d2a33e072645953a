"""Checkpoints and deployments: what exists, and what serves now."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import Checkpoint, Deployment

BASE_CHECKPOINT_ID = 1


def active_checkpoint_id(session: Session) -> int:
    """The newest deployment row is the one serving (rollback is just a newer row)."""
    return (
        session.scalar(select(Deployment.checkpoint_id).order_by(Deployment.id.desc()).limit(1)) or BASE_CHECKPOINT_ID
    )


def list_checkpoints(session: Session) -> list[Checkpoint]:
    return list(session.scalars(select(Checkpoint).order_by(Checkpoint.id)))
