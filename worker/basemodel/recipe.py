"""The base model's training recipe: every number that decides how it is trained, in one place."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class Recipe:
    seed: int = 0
    # Stage 1: autoencoder.
    vae_steps: int = 4000
    vae_batch: int = 16
    vae_lr: float = 1e-3
    # Stage 2: the pool of encoded training scenes.
    scenes: int = 40_000
    # Stage 3: text encoder + UNet, trained jointly from scratch.
    steps: int = 6_000
    batch: int = 32
    lr: float = 5e-4
    warmup: int = 500
    final_lr_share: float = 0.1  # cosine decay ends at this share of lr
    # Plain v-loss: high-noise steps, where the caption decides the layout, keep their full weight.
    snr_gamma: float | None = None  # Min-SNR-γ weighting (Hang et al. 2023) when set
    ema_decay: float = 0.9995
    save_every: int = 250
    eval_every: int = 1000

    def as_dict(self) -> dict:
        return asdict(self)
