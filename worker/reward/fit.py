"""Fitting the preference model to decisive votes: the Bradley-Terry log-likelihood of each winner over its
loser, full batch (a few thousand pairs fit in memory), AdamW with weight decay against overfitting."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from worker.reward.model import PreferenceModel


@dataclass
class FeaturePairs:
    """Decisive votes as features: row i is (prompt, the winner, the loser)."""

    winner: np.ndarray  # (N, image_dim)
    loser: np.ndarray
    prompt: np.ndarray  # (N, prompt_dim)

    def __len__(self) -> int:
        return len(self.winner)


@dataclass(frozen=True)
class FitSettings:
    hidden: int = 64
    epochs: int = 150
    learning_rate: float = 3e-3
    weight_decay: float = 1e-2
    seed: int = 0


def fit(pairs: FeaturePairs, settings: FitSettings = FitSettings()) -> PreferenceModel:
    torch.manual_seed(settings.seed)
    winner, loser, prompt = (torch.as_tensor(a, dtype=torch.float32) for a in (pairs.winner, pairs.loser, pairs.prompt))
    model = PreferenceModel(winner.shape[1], prompt.shape[1], hidden=settings.hidden)
    model.standardise_by(torch.cat([winner, loser]), prompt)
    optimiser = torch.optim.AdamW(model.net.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)
    model.train()
    for _ in range(settings.epochs):
        loss = -F.logsigmoid(model(winner, prompt) - model(loser, prompt)).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return model.eval()


def accuracy(model: PreferenceModel, pairs: FeaturePairs) -> float | None:
    """The share of pairs whose winner the model scores higher (None with no pair)."""
    if not len(pairs):
        return None
    return float((model.margins(pairs.winner, pairs.loser, pairs.prompt) > 0).mean())
