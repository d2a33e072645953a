"""What each pair selection strategy got from the people who labelled its pairs: how many of their
votes named a winner (the only votes a round trains on) and how many were ties, both-bad or passes —
a labeler's time that teaches the model nothing. The field measure of DPOLOOP_PAIRING, next to the
benchmark's: switch strategy, and this shows whether the labelers' votes got more decisive."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import computed_field
from sqlalchemy import case, func, select

from core.db.models import Comparison, Labeler, Vote
from core.db.session import session_scope
from core.settings import Settings
from core.states import Choice, ComparisonKind


@dataclass
class PairingVotes:
    """Human votes on the train pairs one pair selection strategy chose."""

    strategy: str  # random, diverse or uncertain (uncertain's pairs while the base serves are diverse's)
    current: bool  # the strategy DPOLOOP_PAIRING names now
    pairs: int  # train pairs with at least one human vote
    votes: int
    decisive: int  # left or right
    ties: int
    both_bad: int
    skips: int

    @computed_field  # served with the counts
    @property
    def decisive_share(self) -> float | None:
        """Of the votes that gave an answer (passes left out), the share that named a winner."""
        answered = self.votes - self.skips
        return self.decisive / answered if answered else None


def pairing_votes(settings: Settings) -> list[PairingVotes]:
    """Human votes on train pairs per strategy that chose the pair, most votes first: one grouped
    statement, so the counts agree with each other under concurrent votes. AI labelers' votes are left
    out (they cost no one's time); gold pairs are not chosen by a strategy. Train pairs always record
    their strategy; a row without one (written by hand) shows as "unrecorded"."""
    with session_scope() as session:
        rows = session.execute(
            select(Comparison.pairing, func.count(func.distinct(Comparison.id)), func.count(Vote.id),
                   _votes_of(Choice.left, Choice.right), _votes_of(Choice.tie), _votes_of(Choice.both_bad),
                   _votes_of(Choice.skip))
            .join(Vote, Vote.comparison_id == Comparison.id)
            .join(Labeler, Labeler.id == Vote.labeler_id)
            .where(Comparison.kind == ComparisonKind.train, Labeler.is_ai.is_(False))
            .group_by(Comparison.pairing)
        ).all()  # fmt: skip
    found = [PairingVotes(strategy or "unrecorded", strategy == settings.pairing, *(int(n) for n in counts))
             for strategy, *counts in rows]  # fmt: skip
    return sorted(found, key=lambda p: (-p.votes, p.strategy))


def _votes_of(*choices: Choice):
    return func.sum(case((Vote.choice.in_(choices), 1), else_=0))
