"""What the tasks share: writing a generation's files."""

from __future__ import annotations

from core.repo.generations import StartedGeneration
from core.settings import get_settings
from worker.generation.result import GeneratedImage


def save_files(started: StartedGeneration, result: GeneratedImage) -> None:
    """The image and its final latents, where the row says (before the row is marked done)."""
    settings = get_settings()
    latents = settings.latents_dir / started.latents_path if started.latents_path else None
    result.save(settings.media_dir / started.image_path, latents)
