"""What the tasks share: writing a generation's files."""

from __future__ import annotations

from core.repo.generations import StartedGeneration
from core.settings import get_settings
from core.storage import LATENTS, MEDIA, storage
from worker.generation.result import GeneratedImage


def save_files(started: StartedGeneration, result: GeneratedImage) -> None:
    """The image and its final latents, where the row says (before the row is marked done), each whole
    or not at all: a crash never leaves a row marked done pointing at a half-written file."""
    store = storage(get_settings())
    store.write_bytes(f"{MEDIA}/{started.image_path}", result.png_bytes())
    if started.latents_path:
        store.write_bytes(f"{LATENTS}/{started.latents_path}", result.latents_bytes())
