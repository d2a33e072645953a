"""Real checkpoints for tests: a few Diffusion-DPO steps on the shipped model, saved as a round saves them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.db.models import Checkpoint
from core.db.session import session_scope
from core.schemas.rounds import DPOConfig


def trained_checkpoint(base_model: Path, directory: Path, method: str = "lora", steps: int = 2) -> Path:
    from worker.checkpoint_io import write_atomically
    from worker.dpo.trainer import DPOTrainer, TrainingPair
    from worker.generation.loading import load_pipeline

    pipe, family = load_pipeline(base_model)
    config = DPOConfig(method=method, steps=steps, batch_pairs=2, learning_rate=1e-2 if method == "lora" else 1e-4)
    trainer = DPOTrainer(pipe, family, config)
    rng = np.random.default_rng(0)
    pairs = [TrainingPair("a red circle", rng.standard_normal((4, 16, 16), np.float32),
                          rng.standard_normal((4, 16, 16), np.float32)) for _ in range(4)]  # fmt: skip
    trainer.fit(pairs, [])
    return write_atomically(directory, trainer.save, {"config": config.model_dump(), "parent_id": 1})


def register(path: Path, kind: str) -> int:
    with session_scope() as session:
        row = Checkpoint(name=path.name, kind=kind, path=str(path), parent_id=1, status="ready", metrics={})
        session.add(row)
        session.flush()
        return row.id
