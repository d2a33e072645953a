"""The preference model: score(prompt, image) = a small MLP over [image features, prompt features],
each standardised by its training statistics; P(a ≻ b | prompt) = σ(score(a) − score(b)) (Bradley-Terry).
Weights are one safetensors file; the shapes and settings are a JSON file beside it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

WEIGHTS, CONFIG = "model.safetensors", "config.json"


class PreferenceModel(nn.Module):
    def __init__(self, image_dim: int, prompt_dim: int, hidden: int = 64, dropout: float = 0.1):
        super().__init__()
        self.config = {"image_dim": image_dim, "prompt_dim": prompt_dim, "hidden": hidden, "dropout": dropout}
        for name, dim in (("image_mean", image_dim), ("image_std", image_dim),
                          ("prompt_mean", prompt_dim), ("prompt_std", prompt_dim)):  # fmt: skip
            self.register_buffer(name, torch.zeros(dim) if name.endswith("mean") else torch.ones(dim))
        inputs = image_dim + prompt_dim
        if hidden == 0:  # linear Bradley-Terry: the bench's baseline
            self.net = nn.Linear(inputs, 1)
        else:
            self.net = nn.Sequential(nn.Linear(inputs, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, 1))

    def standardise_by(self, images: torch.Tensor, prompts: torch.Tensor) -> None:
        """Take the training features' mean and spread (constant features keep a spread of 1)."""
        for name, values in (("image", images), ("prompt", prompts)):
            std = values.std(dim=0)
            getattr(self, f"{name}_mean").copy_(values.mean(dim=0))
            getattr(self, f"{name}_std").copy_(torch.where(std > 1e-6, std, torch.ones_like(std)))

    def forward(self, images: torch.Tensor, prompts: torch.Tensor) -> torch.Tensor:
        x = torch.cat([(images - self.image_mean) / self.image_std, (prompts - self.prompt_mean) / self.prompt_std], 1)
        return self.net(x).squeeze(1)

    @torch.no_grad()
    def scores(self, images: np.ndarray, prompts: np.ndarray) -> np.ndarray:
        """score(prompt, image) per row: only differences mean something (log-odds of preference)."""
        self.eval()
        return self(torch.as_tensor(images, dtype=torch.float32), torch.as_tensor(prompts, dtype=torch.float32)).numpy()

    def margins(self, first: np.ndarray, second: np.ndarray, prompts: np.ndarray) -> np.ndarray:
        """score(first) − score(second) per pair: > 0 where the model prefers the first image."""
        return self.scores(first, prompts) - self.scores(second, prompts)

    def save(self, directory: Path) -> None:
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in self.state_dict().items()}, str(directory / WEIGHTS))
        (directory / CONFIG).write_text(json.dumps(self.config, indent=1))

    @classmethod
    def load(cls, directory: Path) -> PreferenceModel:
        from safetensors.torch import load_file

        model = cls(**json.loads((directory / CONFIG).read_text()))
        model.load_state_dict(load_file(str(directory / WEIGHTS)))
        return model.eval()
