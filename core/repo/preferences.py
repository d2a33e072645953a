"""Votes → preference pairs for Diffusion-DPO: one pair per comparison, by majority.

Only decisive votes (left/right) can make a pair. A comparison whose decisive votes are split
evenly makes none; ties, both-bad and skips make none. All of them are counted, so a round's
report says what the votes were and why some did not become training data.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from core.db.models import Comparison, Generation, ImportedPair, Labeler, PreferenceSet, Vote
from core.repo.reports import withheld_votes
from core.states import Choice, ComparisonKind


@dataclass(frozen=True)
class PreferencePair:
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


def is_held_out_pair(comparison_id: int, share: float, source: str = "votes") -> bool:
    """A stable split by comparison (or imported pair): the same one is held out in every round."""
    key = f"held-out:{comparison_id}" if source == "votes" else f"held-out:{source}:{comparison_id}"
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < share


def collect_preferences(
    session: Session,
    up_to_vote_id: int | None = None,
    ai_votes: str = "exclude",
    excluded: frozenset[int] = frozenset(),
) -> Preferences:
    """Aggregate the votes on train comparisons (those with id <= up_to_vote_id: a round's snapshot);
    AI labelers' votes are left out, counted with the others ("include") or alone ("only"); votes of
    `excluded` labelers (not in good standing), a reporter's own vote on the pair they reported, and every
    vote on a pair whose report an admin confirmed are counted, not used."""
    a, b = aliased(Generation), aliased(Generation)
    query = (
        select(
            Vote.labeler_id,
            Vote.comparison_id,
            Vote.choice,
            Vote.winner_generation_id,
            Comparison.prompt,
            Comparison.generation_a_id,
            Comparison.generation_b_id,
            a.latents_path,
            b.latents_path,
        )  # fmt: skip
        .join(Comparison, Comparison.id == Vote.comparison_id)
        .join(a, a.id == Comparison.generation_a_id)
        .join(b, b.id == Comparison.generation_b_id)
        .where(Comparison.kind == ComparisonKind.train)
        .order_by(Vote.comparison_id, Vote.id)
    )
    if ai_votes != "include":
        ai = select(Labeler.id).where(Labeler.is_ai.is_(True))
        query = query.where(Vote.labeler_id.in_(ai) if ai_votes == "only" else Vote.labeler_id.not_in(ai))
    if up_to_vote_id is not None:
        query = query.where(Vote.id <= up_to_vote_id)
    result = Preferences()
    winners: dict[int, Counter] = defaultdict(Counter)
    info: dict[int, tuple] = {}
    confirmed, withdrawn = withheld_votes(session)
    for labeler_id, comparison_id, choice, winner, prompt, a_id, b_id, a_latents, b_latents in session.execute(query):
        if comparison_id in confirmed or (comparison_id, labeler_id) in withdrawn:
            result.counts["votes_on_reported_pairs"] += 1
            continue
        if labeler_id in excluded:
            result.counts["votes_excluded_quality"] += 1
            continue
        result.labeler_votes[labeler_id] += 1
        result.counts["votes"] += 1
        result.counts[f"votes_{choice.value}"] += 1
        info[comparison_id] = (prompt, a_id, b_id, a_latents, b_latents)
        if choice in (Choice.left, Choice.right):
            winners[comparison_id][winner] += 1
    result.counts["comparisons"] = len(info)
    for comparison_id, (prompt, a_id, b_id, a_latents, b_latents) in info.items():
        tally = winners.get(comparison_id)
        if not tally:
            result.counts["comparisons_without_decisive_votes"] += 1
            continue
        for_a, for_b = tally[a_id], tally[b_id]
        if for_a == for_b:
            result.counts["comparisons_split"] += 1
            continue
        winner_latents, loser_latents = (a_latents, b_latents) if for_a > for_b else (b_latents, a_latents)
        result.pairs.append(PreferencePair(comparison_id, prompt, winner_latents, loser_latents,
                                           max(for_a, for_b), min(for_a, for_b)))  # fmt: skip
    result.counts["pairs"] = len(result.pairs)
    return result


def add_imported(session: Session, found: Preferences, source: str) -> None:
    """The pairs of an imported set ("import:NAME"), each winner over loser as its file said."""
    name = source.removeprefix("import:")
    rows = session.execute(
        select(ImportedPair.id, ImportedPair.caption, ImportedPair.winner_latents, ImportedPair.loser_latents)
        .join(PreferenceSet, PreferenceSet.id == ImportedPair.set_id)
        .where(PreferenceSet.name == name)
        .order_by(ImportedPair.id)
    ).all()  # fmt: skip
    found.pairs += [PreferencePair(pair_id, caption, winner, loser, 1, 0, source)
                    for pair_id, caption, winner, loser in rows]  # fmt: skip
    found.counts[f"pairs_{source}"] += len(rows)
