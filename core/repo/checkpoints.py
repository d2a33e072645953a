"""Checkpoints and deployments: what exists, and what serves now."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.db.models import Checkpoint, Comparison, Deployment
from core.refs import CheckpointRef
from core.states import BASE_CHECKPOINT_ID, CheckpointKind, CheckpointStatus, ComparisonState


def active_checkpoint_id(session: Session) -> int:
    """The newest deployment row is the one serving (rollback is just a newer row)."""
    return (
        session.scalar(select(Deployment.checkpoint_id).order_by(Deployment.id.desc()).limit(1)) or BASE_CHECKPOINT_ID
    )


def list_checkpoints(session: Session) -> list[Checkpoint]:
    return list(session.scalars(select(Checkpoint).order_by(Checkpoint.id)))


LORA_WEIGHTS = "pytorch_lora_weights.safetensors"  # the file name diffusers' load_lora_weights reads


class UnusableCheckpoint(ValueError):
    """The checkpoint does not exist or is broken."""


def checkpoint_ref(session: Session, checkpoint_id: int) -> CheckpointRef:
    """A detached reference to a checkpoint that may serve; UnusableCheckpoint otherwise."""
    row = session.get(Checkpoint, checkpoint_id)
    if row is None:
        raise UnusableCheckpoint(f"checkpoint {checkpoint_id} does not exist")
    if row.status == CheckpointStatus.broken:
        raise UnusableCheckpoint(f"checkpoint {checkpoint_id} is marked broken: {row.status_reason}")
    return CheckpointRef(id=row.id, kind=row.kind, path=row.path)


class PromotionRefused(ValueError):
    """This checkpoint cannot serve (it is broken, or its files are gone)."""


def checkpoint_files_ok(checkpoint: Checkpoint) -> str | None:
    """Why the checkpoint's files cannot be loaded, or None when they look complete (no torch needed)."""
    if checkpoint.kind == CheckpointKind.base:
        return None
    path = Path(checkpoint.path or "")
    wanted = path / (LORA_WEIGHTS if checkpoint.kind == CheckpointKind.lora else "unet/config.json")
    return None if wanted.is_file() else f"{wanted} is missing"


def promote(session: Session, checkpoint_id: int, by: str, reason: str | None = None) -> Deployment:
    """Make this checkpoint the served one (rollback is promoting an older one); in the caller's transaction.

    Ready comparisons of other checkpoints leave the pool (train ones: their votes stay training
    data; eval ones: a newer evaluation replaces them)."""
    checkpoint = session.get(Checkpoint, checkpoint_id)
    if checkpoint is None:
        raise LookupError(f"checkpoint {checkpoint_id} does not exist")
    if checkpoint.status == CheckpointStatus.broken:
        raise PromotionRefused(f"checkpoint {checkpoint_id} is broken: {checkpoint.status_reason}")
    problem = checkpoint_files_ok(checkpoint)
    if problem:
        raise PromotionRefused(f"checkpoint {checkpoint_id} cannot be loaded: {problem}")
    deployment = Deployment(checkpoint_id=checkpoint_id, promoted_by=by, reason=reason)
    session.add(deployment)
    session.execute(
        update(Comparison)
        .where(Comparison.state == ComparisonState.ready, Comparison.checkpoint_id != checkpoint_id)
        .values(state=ComparisonState.retired)
    )
    session.flush()
    return deployment


def mark_broken(session: Session, checkpoint_id: int, reason: str) -> None:
    """A checkpoint that failed to load never serves: mark it, and roll back if it was promoted."""
    checkpoint = session.get(Checkpoint, checkpoint_id)
    if checkpoint is None or checkpoint.status == CheckpointStatus.broken:
        return
    checkpoint.status, checkpoint.status_reason = CheckpointStatus.broken, reason
    if active_checkpoint_id(session) == checkpoint_id:
        previous = session.scalar(
            select(Deployment.checkpoint_id)
            .join(Checkpoint, Checkpoint.id == Deployment.checkpoint_id)
            .where(Checkpoint.status != CheckpointStatus.broken, Deployment.checkpoint_id != checkpoint_id)
            .order_by(Deployment.id.desc())
            .limit(1)
        )
        session.add(Deployment(checkpoint_id=previous or BASE_CHECKPOINT_ID, promoted_by="system",
                               reason=f"automatic rollback: checkpoint {checkpoint_id} failed to load"))  # fmt: skip


def deployments(session: Session, limit: int = 100) -> list[Deployment]:
    return list(session.scalars(select(Deployment).order_by(Deployment.id.desc()).limit(limit)))
