"""Checkpoints and deployments: what exists, and what serves now.

A row names its folder relative to the data dir (`checkpoints/round-0003-1a2b3c`), so a copy of the
data dir elsewhere (a restored backup, another host) wears its own files; an absolute path is a
folder placed outside the data dir by hand (migration 0014). Rows are turned into folders here only."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.db.models import DEFAULT_CAMPAIGN_ID, Checkpoint, Comparison, Deployment
from core.paths import resolve_stored, stored_path
from core.refs import CheckpointRef
from core.settings import get_settings
from core.states import BASE_CHECKPOINT_ID, CheckpointKind, CheckpointStatus, ComparisonKind, ComparisonState
from core.storage import NotPublished, storage

log = logging.getLogger(__name__)


def active_checkpoint_id(session: Session, campaign_id: int = DEFAULT_CAMPAIGN_ID) -> int:
    """A campaign's newest deployment row is the one serving it (rollback is just a newer row); the base
    serves a campaign that has none."""
    newest = select(Deployment.checkpoint_id).where(Deployment.campaign_id == campaign_id)
    return session.scalar(newest.order_by(Deployment.id.desc()).limit(1)) or BASE_CHECKPOINT_ID


def lineage_campaign(session: Session, *checkpoint_ids: int) -> int:
    """The campaign whose lineage holds these checkpoints (the base is every lineage's root: the others
    decide; default when all are the base). Two checkpoints compared are always of one lineage."""
    others = [c for c in checkpoint_ids if c != BASE_CHECKPOINT_ID]
    query = select(Checkpoint.campaign_id).where(Checkpoint.id.in_(others)).order_by(Checkpoint.id).limit(1)
    found = session.scalar(query) if others else None
    return found or DEFAULT_CAMPAIGN_ID


def list_checkpoints(session: Session) -> list[Checkpoint]:
    return list(session.scalars(select(Checkpoint).order_by(Checkpoint.id)))


LORA_WEIGHTS = "pytorch_lora_weights.safetensors"  # the file name diffusers' load_lora_weights reads


def checkpoint_folder(checkpoint: Checkpoint) -> Path | None:
    """Where the checkpoint's files are on the local backend (the data dir: tests and benches read them
    there); None for the base (DPOLOOP_BASE_MODEL). Workers use core.storage.local_folder."""
    return resolve_stored(get_settings().data_dir, checkpoint.path) if checkpoint.path else None


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
    """Why the checkpoint's files cannot be loaded, or None when they look complete (no torch needed, and
    nothing downloaded: an object store answers from the folder's manifest)."""
    if checkpoint.kind == CheckpointKind.base:
        return None
    if checkpoint.kind == CheckpointKind.lora:
        wanted = [LORA_WEIGHTS]
    else:  # a whole fine-tuned denoiser: a UNet, or SD3's/FLUX's transformer
        wanted = ["unet/config.json", "transformer/config.json"]
    stored = checkpoint.path or ""
    if Path(stored).is_absolute():  # registered from outside the storage
        found = {w for w in wanted if (Path(stored) / w).is_file()}
    else:
        try:
            found = storage(get_settings()).folder_files(stored) & set(wanted)
        except (NotPublished, ValueError):
            found = set()
    return None if found else f"{stored}/{wanted[0]} is missing"


def promote(session: Session, checkpoint_id: int, by: str, reason: str | None = None) -> Deployment:
    """Make this checkpoint the one serving its campaign (rollback is promoting an older one; the base may
    serve any campaign: see promote_in); in the caller's transaction."""
    checkpoint = session.get(Checkpoint, checkpoint_id)
    if checkpoint is None:
        raise LookupError(f"checkpoint {checkpoint_id} does not exist")
    return promote_in(session, checkpoint.campaign_id, checkpoint_id, by, reason)


def promote_in(session: Session, campaign_id: int, checkpoint_id: int, by: str, reason: str | None = None
               ) -> Deployment:  # fmt: skip
    """Make this checkpoint serve the campaign: one of its own lineage, or the base.

    Ready comparisons of the campaign drawn from other checkpoints leave its pool (train ones: their votes
    stay training data; eval ones: a newer evaluation replaces them); arena matches stay, whatever serves,
    and so do other campaigns' pairs."""
    checkpoint = session.get(Checkpoint, checkpoint_id)
    if checkpoint is None:
        raise LookupError(f"checkpoint {checkpoint_id} does not exist")
    if checkpoint.campaign_id != campaign_id and checkpoint_id != BASE_CHECKPOINT_ID:
        raise PromotionRefused(f"checkpoint {checkpoint_id} belongs to another campaign's lineage")
    if checkpoint.status == CheckpointStatus.broken:
        raise PromotionRefused(f"checkpoint {checkpoint_id} is broken: {checkpoint.status_reason}")
    problem = checkpoint_files_ok(checkpoint)
    if problem:
        raise PromotionRefused(f"checkpoint {checkpoint_id} cannot be loaded: {problem}")
    deployment = Deployment(checkpoint_id=checkpoint_id, campaign_id=campaign_id, promoted_by=by, reason=reason)
    session.add(deployment)
    session.execute(
        update(Comparison)
        .where(Comparison.state == ComparisonState.ready, Comparison.checkpoint_id != checkpoint_id,
               Comparison.kind != ComparisonKind.match, Comparison.campaign_id == campaign_id)
        .values(state=ComparisonState.retired)
    )
    session.flush()
    return deployment


def mark_broken(session: Session, checkpoint_id: int, reason: str) -> None:
    """A checkpoint that keeps failing to load never serves: mark it, and if it serves, roll back to
    the newest earlier one that is not broken. The base is the last resort only while it is not
    broken itself; with nothing left to roll back to, the deployment stays and the log says why."""
    checkpoint = session.get(Checkpoint, checkpoint_id)
    if checkpoint is None or checkpoint.status == CheckpointStatus.broken:
        return
    checkpoint.status, checkpoint.status_reason = CheckpointStatus.broken, reason
    campaign_id = checkpoint.campaign_id
    if active_checkpoint_id(session, campaign_id) != checkpoint_id:
        return
    previous = session.scalar(
        select(Deployment.checkpoint_id)
        .join(Checkpoint, Checkpoint.id == Deployment.checkpoint_id)
        .where(Checkpoint.status != CheckpointStatus.broken, Deployment.checkpoint_id != checkpoint_id,
               Deployment.campaign_id == campaign_id)
        .order_by(Deployment.id.desc())
        .limit(1)
    )
    if previous is None and session.get(Checkpoint, BASE_CHECKPOINT_ID).status != CheckpointStatus.broken:
        previous = BASE_CHECKPOINT_ID
    if previous is None:
        log.error("checkpoint %s is broken and serves, and no checkpoint is left to roll back to (the base is "
                  "broken too): nothing can generate until an admin clears or promotes one", checkpoint_id)  # fmt: skip
        return
    session.add(Deployment(checkpoint_id=previous, campaign_id=campaign_id, promoted_by="system",
                           reason=f"automatic rollback: checkpoint {checkpoint_id} failed to load"))  # fmt: skip


def clear_broken(session: Session, checkpoint_id: int, by: str) -> Checkpoint:
    """Take the broken mark off a checkpoint whose failure was passing (LookupError; PromotionRefused
    when its files are gone). It does not serve until it is promoted again."""
    checkpoint = session.get(Checkpoint, checkpoint_id)
    if checkpoint is None:
        raise LookupError(f"checkpoint {checkpoint_id} does not exist")
    problem = checkpoint_files_ok(checkpoint)
    if problem:
        raise PromotionRefused(f"checkpoint {checkpoint_id} cannot be loaded: {problem}")
    if checkpoint.status == CheckpointStatus.broken:
        passed = (checkpoint.metrics or {}).get("gate", {}).get("passed", True)  # the base has no gate
        checkpoint.status = CheckpointStatus.ready if passed else CheckpointStatus.rejected
        checkpoint.status_reason = f"broken mark cleared by {by}"
    return checkpoint


def deployments(session: Session, limit: int = 100) -> list[Deployment]:
    return list(session.scalars(select(Deployment).order_by(Deployment.id.desc()).limit(limit)))


@dataclass(frozen=True)
class NewCheckpoint:
    """A round's checkpoint, written to disk and gated, to be registered."""

    round_id: int
    name: str
    kind: CheckpointKind
    path: str  # the folder the round wrote (under the data dir); stored relative to it
    parent_id: int
    passed_gate: bool
    gate_summary: str
    metrics: dict
    campaign_id: int = DEFAULT_CAMPAIGN_ID  # whose lineage: the round's campaign


def register(session: Session, new: NewCheckpoint) -> int:
    """Add the checkpoint to the registry, rejected when it failed the gate; returns its id."""
    status = CheckpointStatus.ready if new.passed_gate else CheckpointStatus.rejected
    path = stored_path(get_settings().data_dir, Path(new.path))
    checkpoint = Checkpoint(name=new.name, kind=new.kind, path=path, parent_id=new.parent_id,
                            campaign_id=new.campaign_id, round_id=new.round_id, status=status,
                            status_reason=new.gate_summary, metrics=new.metrics)  # fmt: skip
    session.add(checkpoint)
    session.flush()
    return checkpoint.id
