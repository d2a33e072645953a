"""Votes → preference pairs for Diffusion-DPO, as pure rules (no database, no torch): one pair per
comparison, by majority, and the stable held-out split. core/repo/preferences.py reads the votes.

Only decisive votes (left/right) can make a pair. A comparison whose decisive votes are split evenly
makes none; ties, both-bad and skips make none. All of them are counted, so a round's report says
what the votes were and why some did not become training data.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from core.states import Choice


@dataclass(frozen=True)
class PreferencePair:
    """(prompt, preferred generation, other generation): what a round trains on."""

    comparison_id: int
    prompt: str
    winner_latents: str  # relative to the latents dir
    loser_latents: str
    votes_for: int  # decisive votes for the winner
    votes_against: int
    source: str = "votes"  # or "import:NAME" (then comparison_id is the imported pair's id)


@dataclass
class Preferences:
    pairs: list[PreferencePair] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)
    labeler_votes: Counter = field(default_factory=Counter)  # votes counted, per labeler: the lineage


@dataclass(frozen=True)
class CastVote:
    """One vote on a train comparison, with what the comparison shows (the rows core/repo reads)."""

    labeler_id: int
    comparison_id: int
    choice: Choice
    winner_generation_id: int | None
    prompt: str
    generation_a_id: int
    generation_b_id: int
    a_latents: str
    b_latents: str


def is_held_out_pair(comparison_id: int, share: float, source: str = "votes") -> bool:
    """A stable split by comparison (or imported pair): the same one is held out in every round."""
    key = f"held-out:{comparison_id}" if source == "votes" else f"held-out:{source}:{comparison_id}"
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < share


def majority_pairs(votes: Iterable[CastVote], withheld_pairs: set[int] = frozenset(),
                   withheld_votes: set[tuple[int, int]] = frozenset(), excluded: frozenset[int] = frozenset(),
                   ) -> Preferences:  # fmt: skip
    """One preference pair per comparison whose decisive votes have a majority. Counted, not used: votes on
    `withheld_pairs` (a report an admin confirmed), `withheld_votes` ((comparison, labeler): a reporter's own
    vote on the pair they reported), and votes of `excluded` labelers (not in good standing)."""
    result = Preferences()
    winners: dict[int, Counter] = defaultdict(Counter)
    shown: dict[int, CastVote] = {}
    for vote in votes:
        if vote.comparison_id in withheld_pairs or (vote.comparison_id, vote.labeler_id) in withheld_votes:
            result.counts["votes_on_reported_pairs"] += 1
            continue
        if vote.labeler_id in excluded:
            result.counts["votes_excluded_quality"] += 1
            continue
        result.labeler_votes[vote.labeler_id] += 1
        result.counts["votes"] += 1
        result.counts[f"votes_{vote.choice.value}"] += 1
        shown[vote.comparison_id] = vote
        if vote.choice in (Choice.left, Choice.right):
            winners[vote.comparison_id][vote.winner_generation_id] += 1
    result.counts["comparisons"] = len(shown)
    for comparison_id, pair in shown.items():
        tally = winners.get(comparison_id)
        if not tally:
            result.counts["comparisons_without_decisive_votes"] += 1
            continue
        for_a, for_b = tally[pair.generation_a_id], tally[pair.generation_b_id]
        if for_a == for_b:
            result.counts["comparisons_split"] += 1
            continue
        winner, loser = (pair.a_latents, pair.b_latents) if for_a > for_b else (pair.b_latents, pair.a_latents)
        result.pairs.append(PreferencePair(comparison_id, pair.prompt, winner, loser, max(for_a, for_b),
                                           min(for_a, for_b)))  # fmt: skip
    result.counts["pairs"] = len(result.pairs)
    return result
