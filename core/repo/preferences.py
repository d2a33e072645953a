"""The votes a round or the preference model reads, as preference pairs (the rules are in
core/preferences.py): the votes on train comparisons up to a snapshot, and imported sets' pairs."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from core.db.models import DEFAULT_CAMPAIGN_ID, Comparison, Generation, ImportedPair, Labeler, PreferenceSet, Vote
from core.preferences import CastVote, PreferencePair, Preferences, majority_pairs
from core.repo.reports import withheld_votes
from core.states import ComparisonKind


def collect_preferences(
    session: Session,
    up_to_vote_id: int | None = None,
    ai_votes: str = "exclude",
    excluded: frozenset[int] = frozenset(),
    campaign_id: int = DEFAULT_CAMPAIGN_ID,
) -> Preferences:
    """Aggregate the votes on a campaign's train comparisons (each trains its own lineage) with id <=
    up_to_vote_id (a round's snapshot); AI labelers' votes are left out, counted with the
    others ("include") or alone ("only"); votes of `excluded` labelers (not in good standing), a
    reporter's own vote on the pair they reported, and every vote on a pair whose report an admin
    confirmed are counted, not used."""
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
        .where(Comparison.kind == ComparisonKind.train, Comparison.campaign_id == campaign_id)
        .order_by(Vote.comparison_id, Vote.id)
    )
    if ai_votes != "include":
        ai = select(Labeler.id).where(Labeler.is_ai.is_(True))
        query = query.where(Vote.labeler_id.in_(ai) if ai_votes == "only" else Vote.labeler_id.not_in(ai))
    if up_to_vote_id is not None:
        query = query.where(Vote.id <= up_to_vote_id)
    confirmed, withdrawn = withheld_votes(session)
    return majority_pairs((CastVote(*row) for row in session.execute(query)), confirmed, withdrawn, excluded)


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
