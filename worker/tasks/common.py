"""Helpers the tasks share: checkpoint lookup and writing a finished generation."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.db.models import Checkpoint, Generation
from app.repo.generations import image_relpath, latents_relpath, mark_done
from app.settings import get_settings
from worker.serving import CheckpointRef


class UnknownCheckpoint(ValueError):
    pass


def checkpoint_ref(session: Session, checkpoint_id: int) -> CheckpointRef:
    row = session.get(Checkpoint, checkpoint_id)
    if row is None:
        raise UnknownCheckpoint(f"checkpoint {checkpoint_id} does not exist")
    if row.status == "broken":
        raise UnknownCheckpoint(f"checkpoint {checkpoint_id} is marked broken: {row.status_reason}")
    return CheckpointRef(id=row.id, kind=row.kind, path=row.path)


def store_result(generation: Generation, result, checkpoint_id: int, duration_ms: float) -> None:
    """Write the image and latents files, then mark the row done (files first: a done row has files)."""
    settings = get_settings()
    result.save(settings.media_dir / image_relpath(generation), settings.latents_dir / latents_relpath(generation))
    mark_done(generation, checkpoint_id, duration_ms)
