"""Checkpoints and deployments: what exists, and what serves now."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import Checkpoint, Deployment

BASE_CHECKPOINT_ID = 1


def active_deployment(session: Session) -> Deployment:
    """The newest deployment row is the one serving (rollback is just a newer row)."""
    deployment = session.scalars(select(Deployment).order_by(Deployment.id.desc()).limit(1)).first()
    if deployment is None:
        raise RuntimeError("no deployment rows: run `dpoloop migrate`")
    return deployment


def active_checkpoint_id(session: Session) -> int:
    return (
        session.scalar(select(Deployment.checkpoint_id).order_by(Deployment.id.desc()).limit(1)) or BASE_CHECKPOINT_ID
    )


def list_checkpoints(session: Session) -> list[Checkpoint]:
    return list(session.scalars(select(Checkpoint).order_by(Checkpoint.id)))
