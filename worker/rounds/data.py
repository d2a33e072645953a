"""A round's training data: the snapshot's preference pairs, with the latents stored at generation,
split into training and held-out pairs (a stable split by comparison, the same in every round)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from core.preferences import PreferencePair, Preferences, is_held_out_pair
from core.services import rounds
from core.services.rounds import RoundClaim
from core.settings import Settings
from core.states import RoundState
from core.storage import latents_file, prefetch_latents
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


def source_budgets(available: dict[str, int], max_pairs: int, reserved: dict[str, int]) -> dict[str, int]:
    """How many of its newest pairs each source gives: a reserved source up to its budget, the others an
    even share of the rest, a share one cannot fill going to those that can (in `available`'s order on
    a tie). No source can crowd another out, whatever its size or its ids."""
    budgets = {source: min(count, reserved[source]) for source, count in available.items() if source in reserved}
    left = max(0, max_pairs - sum(budgets.values()))
    shared = sorted((s for s in available if s not in reserved), key=lambda s: available[s])  # smallest first
    for i, source in enumerate(shared):
        budgets[source] = min(available[source], left // (len(shared) - i))
        left -= budgets[source]
    return {source: budgets[source] for source in available}


def load_pairs(
    preferences: Preferences, latents_file: Callable[[str], Path], held_out_share: float, max_pairs: int,
    source_max_pairs: dict[str, int] | None = None, sources: list[str] | None = None,
    prefetch: Callable[[list[str]], None] | None = None,
) -> RoundData:  # fmt: skip
    """Read both latents of each source's newest pairs within its budget (source_budgets) and split them by
    comparison (older pairs are counted, not loaded: memory stays flat as the history grows). The counts
    say, per source, how many pairs it had, its budget, and what it gave to training and held out."""
    data = RoundData(train=[], held_out=[], missing_latents=0, counts={})
    by_source: dict[str, list[PreferencePair]] = {source: [] for source in sources or []}
    for pair in preferences.pairs:
        by_source.setdefault(pair.source, []).append(pair)
    available = {source: len(pairs) for source, pairs in by_source.items()}
    budgets = source_budgets(available, max_pairs, source_max_pairs or {})
    loaded: list[tuple[str, str, TrainingPair, tuple[str, str, str]]] = []  # (source, side, pair, files)
    chosen = {source: sorted(pairs, key=lambda p: p.comparison_id, reverse=True)[: budgets[source]]
              for source, pairs in by_source.items()}  # fmt: skip
    if prefetch is not None:  # from an object store: all at once, not one round trip per file
        prefetch([f for pairs in chosen.values() for p in pairs for f in (p.winner_latents, p.loser_latents)])
    for source, pairs in chosen.items():
        for pair in pairs:
            try:
                winner_file, loser_file = latents_file(pair.winner_latents), latents_file(pair.loser_latents)
                winner, loser = np.load(winner_file), np.load(loser_file)
            except (OSError, ValueError, TypeError):  # a lost or unreadable file costs one pair, not the round
                data.missing_latents += 1
                continue
            side = "held_out" if is_held_out_pair(pair.comparison_id, held_out_share, pair.source) else "train"
            files = (pair.prompt, str(winner_file), str(loser_file))
            loaded.append((source, side, TrainingPair(prompt=pair.prompt, winner=winner, loser=loser), files))
    sides = [side for _, side, _, _ in loaded]
    if held_out_share > 0 and "held_out" not in sides and len(loaded) >= 2:
        # A handful of pairs can all fall on the training side; the gate needs at least one to judge.
        source, _, pair, files = loaded[-1]
        loaded[-1] = (source, "held_out", pair, files)
    per_source = {source: {"pairs": available[source], "budget": budgets[source], "train": 0, "held_out": 0}
                  for source in by_source}  # fmt: skip
    for source, side, pair, files in loaded:
        (data.held_out if side == "held_out" else data.train).append(pair)
        data.files[side].append(files)
        per_source[source][side] += 1
    beyond = len(preferences.pairs) - sum(budgets.values())
    data.counts = dict(preferences.counts) | {"train_pairs": len(data.train), "held_out_pairs": len(data.held_out),
                                              "missing_latents": data.missing_latents, "pairs_beyond_max": beyond,
                                              "sources": per_source}  # fmt: skip
    return data


def gather(claim: RoundClaim, settings: Settings) -> RoundData:
    """The round's pairs, its counts recorded; RoundStopped when no pair is left to train on."""
    preferences = rounds.preferences_of(claim, settings)
    config = claim.config
    data = load_pairs(preferences, partial(latents_file, settings), config.held_out_share, config.max_pairs,
                      config.source_max_pairs, config.sources, partial(prefetch_latents, settings))  # fmt: skip
    data.labeler_votes = {str(labeler): n for labeler, n in sorted(preferences.labeler_votes.items())}
    rounds.record_counts(claim, data.counts)
    if not data.train:
        votes = preferences.counts.get("votes", 0)
        reason = f"nothing to train on: {votes} votes gave no training pair (decisive left/right votes make pairs)"
        raise RoundStopped(RoundState.failed, reason)
    return data
