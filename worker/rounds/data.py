"""A round's training data: the snapshot's preference pairs, with the latents stored at generation."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.repo.preferences import Preferences, is_held_out
from worker.dpo.trainer import TrainingPair


@dataclass
class RoundData:
    train: list[TrainingPair]
    held_out: list[TrainingPair]
    missing_latents: int


def load_pairs(preferences: Preferences, latents_dir: Path, held_out_share: float) -> RoundData:
    """Split by comparison (stable across rounds) and read both latents of every pair."""
    data = RoundData(train=[], held_out=[], missing_latents=0)
    for pair in preferences.pairs:
        try:
            winner = np.load(latents_dir / pair.winner_latents)
            loser = np.load(latents_dir / pair.loser_latents)
        except (OSError, ValueError, TypeError):  # a lost or unreadable file costs one pair, not the round
            data.missing_latents += 1
            continue
        training_pair = TrainingPair(prompt=pair.prompt, winner=winner, loser=loser)
        (data.held_out if is_held_out(pair.comparison_id, held_out_share) else data.train).append(training_pair)
    if held_out_share > 0 and not data.held_out and len(data.train) >= 2:
        # A handful of pairs can all fall on the training side; the gate needs at least one to judge.
        data.held_out.append(data.train.pop())
    return data
