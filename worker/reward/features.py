"""Frozen features for the preference model, from what every family's pipeline already has.

An image is the final latents its generation stored (VAE space, C × h × w), summarised so that one
small model fits any size and family:
- a 4 × 4 grid of channel means: where things are (a labeler who wants the object on the left);
- per channel, 11 quantiles of the values and 6 upper quantiles of the distance from the median:
  how much of the image departs from its background and how far, wherever it is (larger, smaller);
- per channel, the standard deviation.
A prompt is its CLIP text encoder's pooled embedding (every supported family's `text_encoder`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

GRID = 4
VALUE_QUANTILES = torch.linspace(0.0, 1.0, 11)
SPREAD_QUANTILES = torch.linspace(0.5, 1.0, 6)
NAME = "latents+text"  # what the card says the model was trained on


def image_features(latents: np.ndarray | torch.Tensor) -> np.ndarray:
    """(N, C, h, w) latents → (N, C · (GRID² + 18)) features."""
    x = torch.as_tensor(np.asarray(latents, dtype=np.float32))
    flat = x.flatten(2)
    median = flat.median(dim=-1, keepdim=True).values
    parts = [
        F.adaptive_avg_pool2d(x, (GRID, GRID)).flatten(1),
        torch.quantile(flat, VALUE_QUANTILES, dim=-1).permute(1, 2, 0).flatten(1),
        torch.quantile((flat - median).abs(), SPREAD_QUANTILES, dim=-1).permute(1, 2, 0).flatten(1),
        flat.std(dim=-1),
    ]
    return torch.cat(parts, dim=1).numpy()


class PromptFeatures:
    """The pooled prompt embedding of the base model's first text encoder, one encoding per prompt."""

    def __init__(self, base_model: str | Path):
        from transformers import CLIPTextModel, CLIPTokenizer

        base = Path(base_model)
        self.tokenizer = CLIPTokenizer.from_pretrained(base / "tokenizer", local_files_only=True)
        self.encoder = CLIPTextModel.from_pretrained(base / "text_encoder", local_files_only=True).eval()
        self._cache: dict[str, np.ndarray] = {}

    @torch.no_grad()
    def __call__(self, prompts: list[str]) -> np.ndarray:
        new = sorted({p for p in prompts if p not in self._cache})
        for start in range(0, len(new), 64):
            batch = new[start : start + 64]
            ids = self.tokenizer(batch, padding="max_length", max_length=self.tokenizer.model_max_length,
                                 truncation=True, return_tensors="pt")  # fmt: skip
            pooled = self.encoder(input_ids=ids.input_ids).pooler_output.float().numpy()
            self._cache.update(zip(batch, pooled, strict=True))
        return np.stack([self._cache[p] for p in prompts]) if prompts else np.zeros((0, 0), np.float32)
