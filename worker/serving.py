"""The model a worker process serves: one pipeline, the checkpoint it wears, and the lock around both.

A diffusers pipeline is not thread-safe, and a generation must never see half of a weight change,
so generation and every overlay change happen under one lock.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from app.schemas.generation import GenerationParams
from app.settings import Settings, get_settings


@dataclass(frozen=True)
class CheckpointRef:
    """What a worker needs to know to wear a checkpoint (a detached copy of the DB row)."""

    id: int
    kind: str  # base | lora | full
    path: str | None


class ModelServer:
    def __init__(self, settings: Settings | None = None):
        self.settings = settings or get_settings()
        self.lock = threading.Lock()
        self.generator = None
        self.checkpoint_id: int | None = None

    def _ensure_loaded(self) -> None:
        if self.generator is None:
            import torch

            from worker.generation.generator import Generator

            torch.set_num_threads(self.settings.torch_threads)
            device = torch.device(self.settings.device) if self.settings.device else None
            self.generator = Generator(self.settings.base_model, device=device)
            self.checkpoint_id = 1

    def _wear(self, checkpoint: CheckpointRef) -> None:
        if checkpoint.id == self.checkpoint_id:
            return
        self.checkpoint_id = None  # until the new weights are fully in place: a failed load wears nothing known
        if checkpoint.kind == "base":
            self.generator.unload_overlays()
        elif checkpoint.kind == "lora":
            self.generator.load_lora(Path(checkpoint.path))
        elif checkpoint.kind == "full":
            self.generator.load_unet(Path(checkpoint.path) / "unet")
        else:
            raise ValueError(f"unknown checkpoint kind {checkpoint.kind!r}")
        self.checkpoint_id = checkpoint.id

    def warm(self) -> None:
        with self.lock:
            self._ensure_loaded()

    def generate(self, requests: list[GenerationParams], checkpoint: CheckpointRef):
        """Generate with exactly this checkpoint's weights."""
        with self.lock:
            self._ensure_loaded()
            self._wear(checkpoint)
            return self.generator.generate(requests)


_server: ModelServer | None = None


def model_server() -> ModelServer:
    """This process's server (created on first use: a prefork parent never loads torch)."""
    global _server
    if _server is None:
        _server = ModelServer()
    return _server
