"""A round's training data: the snapshot's preference pairs, with the latents stored at generation,
split into training and held-out pairs (a stable split by comparison, the same in every round)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.repo.preferences import Preferences, is_held_out_pair
from core.services import rounds
from core.services.rounds import RoundClaim
from core.settings import Settings
from core.states import RoundState
from worker.dpo.trainer import TrainingPair
from worker.rounds.stopped import RoundStopped


@dataclass
class RoundData:
    train: list[TrainingPair]
    held_out: list[TrainingPair]
    missing_latents: int
    counts: dict  # what the votes were and why some made no pair (the round's report)
    labeler_votes: dict[str, int] = field(default_factory=dict)  # whose votes it trains on (lineage)
    # The same pairs as files (prompt, winner latents, loser latents): what training processes read.
    files: dict[str, list[tuple[str, str, str]]] = field(default_factory=lambda: {"train": [], "held_out": []})


def load_pairs(preferences: Preferences, latents_dir: Path, held_out_share: float, max_pairs: int) -> RoundData:
    """Read both latents of the newest `max_pairs` pairs and split them by comparison (older pairs
    are counted, not loaded: memory stays flat as the history grows)."""
    data = RoundData(train=[], held_out=[], missing_latents=0, counts={})
    newest = sorted(preferences.pairs, key=lambda p: p.comparison_id, reverse=True)[:max_pairs]
    for pair in newest:
        try:
            winner = np.load(latents_dir / pair.winner_latents)
            loser = np.load(latents_dir / pair.loser_latents)
        except (OSError, ValueError, TypeError):  # a lost or unreadable file costs one pair, not the round
            data.missing_latents += 1
            continue
        training_pair = TrainingPair(prompt=pair.prompt, winner=winner, loser=loser)
        side = "held_out" if is_held_out_pair(pair.comparison_id, held_out_share, pair.source) else "train"
        (data.held_out if side == "held_out" else data.train).append(training_pair)
        files = (str(latents_dir / pair.winner_latents), str(latents_dir / pair.loser_latents))
        data.files[side].append((pair.prompt, *files))
    if held_out_share > 0 and not data.held_out and len(data.train) >= 2:
        # A handful of pairs can all fall on the training side; the gate needs at least one to judge.
        data.held_out.append(data.train.pop())
        data.files["held_out"].append(data.files["train"].pop())
    data.counts = dict(preferences.counts) | {"train_pairs": len(data.train), "held_out_pairs": len(data.held_out),
                                              "missing_latents": data.missing_latents,
                                              "pairs_beyond_max": len(preferences.pairs) - len(newest)}  # fmt: skip
    return data


def gather(claim: RoundClaim, settings: Settings) -> RoundData:
    """The round's pairs, its counts recorded; RoundStopped when no pair is left to train on."""
    preferences = rounds.preferences_of(claim, settings)
    data = load_pairs(preferences, settings.latents_dir, claim.config.held_out_share, claim.config.max_pairs)
    data.labeler_votes = {str(labeler): n for labeler, n in sorted(preferences.labeler_votes.items())}
    rounds.record_counts(claim, data.counts)
    if not data.train:
        votes = preferences.counts.get("votes", 0)
        reason = f"nothing to train on: {votes} votes gave no training pair (decisive left/right votes make pairs)"
        raise RoundStopped(RoundState.failed, reason)
    return data
