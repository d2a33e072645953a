"""What each pair selection strategy got from the people who labelled its pairs: how many of their
votes named a winner (the only votes a round trains on) and how many were ties, both-bad or passes —
a labeler's time that teaches the model nothing. The field measure of DPOLOOP_PAIRING, next to the
benchmark's: switch strategy, and this shows whether the labelers' votes got more decisive."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.db.models import Comparison, Labeler, Vote
from core.states import Choice, ComparisonKind


@dataclass
class PairingVotes:
    strategy: str
    pairs: int  # train pairs with at least one human vote
    votes: int
    decisive: int  # left or right
    ties: int
    both_bad: int
    skips: int

    @property
    def decisive_share(self) -> float | None:
        """Of the votes that gave an answer (passes left out), the share that named a winner."""
        answered = self.votes - self.skips
        return self.decisive / answered if answered else None


def votes_by_pairing(session: Session) -> list[PairingVotes]:
    """Human votes on train pairs per strategy that chose the pair, most votes first. AI labelers'
    votes are left out (they cost no one's time); gold pairs are not chosen by a strategy."""
    human = Labeler.is_ai.is_(False)
    rows = session.execute(
        select(Comparison.pairing, Vote.choice, func.count(Vote.id))
        .join(Vote, Vote.comparison_id == Comparison.id)
        .join(Labeler, Labeler.id == Vote.labeler_id)
        .where(Comparison.kind == ComparisonKind.train, human)
        .group_by(Comparison.pairing, Vote.choice)
    ).all()
    pairs = dict(session.execute(
        select(Comparison.pairing, func.count(func.distinct(Comparison.id)))
        .join(Vote, Vote.comparison_id == Comparison.id)
        .join(Labeler, Labeler.id == Vote.labeler_id)
        .where(Comparison.kind == ComparisonKind.train, human)
        .group_by(Comparison.pairing)
    ).all())  # fmt: skip
    counts: dict[str, dict[Choice, int]] = defaultdict(dict)
    for strategy, choice, votes in rows:
        counts[strategy][Choice(choice)] = votes
    found = [
        PairingVotes(
            strategy=strategy or "unrecorded",
            pairs=pairs[strategy],
            votes=sum(by_choice.values()),
            decisive=by_choice.get(Choice.left, 0) + by_choice.get(Choice.right, 0),
            ties=by_choice.get(Choice.tie, 0),
            both_bad=by_choice.get(Choice.both_bad, 0),
            skips=by_choice.get(Choice.skip, 0),
        )
        for strategy, by_choice in counts.items()
    ]
    return sorted(found, key=lambda p: (-p.votes, p.strategy))
