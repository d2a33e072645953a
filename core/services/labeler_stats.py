"""How each labeler labels: volume, pace, decision time, how often they pass on a pair, and how often
their decisive votes agree with the other labelers' majority on the same pair (leave-one-out)."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from core.db.models import Labeler, Vote
from core.db.session import session_scope
from core.states import DECISIVE, Choice


@dataclass
class LabelerStats:
    labeler_id: int
    name: str
    role: str
    active: bool
    votes: int
    votes_last_hour: int
    median_decision_ms: float | None
    tie_share: float | None
    both_bad_share: float | None
    skip_share: float | None
    agreement: float | None  # decisive votes that side with the others' majority, where there is one
    agreement_votes: int  # how many votes that share rests on


def labeler_stats() -> list[LabelerStats]:
    now = datetime.now(UTC)
    with session_scope() as session:
        labelers = list(session.scalars(select(Labeler).order_by(Labeler.id)))
        votes = session.execute(select(Vote.labeler_id, Vote.comparison_id, Vote.choice, Vote.winner_generation_id,
                                       Vote.decision_ms, Vote.created_at)).all()  # fmt: skip
    winners_by_pair: dict[int, Counter] = defaultdict(Counter)
    for _, comparison_id, choice, winner, _, _ in votes:
        if choice in DECISIVE:
            winners_by_pair[comparison_id][winner] += 1
    by_labeler: dict[int, list] = defaultdict(list)
    for vote in votes:
        by_labeler[vote[0]].append(vote)
    return [_stats(labeler, by_labeler[labeler.id], winners_by_pair, now) for labeler in labelers]


def _stats(labeler: Labeler, votes: list, winners_by_pair: dict[int, Counter], now: datetime) -> LabelerStats:
    choices = Counter(choice for _, _, choice, _, _, _ in votes)
    times = [ms for *_, ms, _ in votes if ms is not None]
    agree = judged = 0
    for _, comparison_id, choice, winner, _, _ in votes:
        if choice not in DECISIVE:
            continue
        others = winners_by_pair[comparison_id].copy()
        others[winner] -= 1  # leave this vote out of the majority it is measured against
        ranked = [(n, w) for w, n in others.items() if n > 0]
        ranked.sort(reverse=True)
        if not ranked or (len(ranked) > 1 and ranked[0][0] == ranked[1][0]):
            continue  # nobody else decided, or the others split evenly
        judged += 1
        agree += ranked[0][1] == winner

    def share(choice: Choice) -> float | None:
        return choices[choice] / len(votes) if votes else None

    return LabelerStats(
        labeler_id=labeler.id, name=labeler.name, role=labeler.role.value, active=labeler.active, votes=len(votes),
        votes_last_hour=sum(1 for *_, created in votes if created >= now - timedelta(hours=1)),
        median_decision_ms=statistics.median(times) if times else None, tie_share=share(Choice.tie),
        both_bad_share=share(Choice.both_bad), skip_share=share(Choice.skip),
        agreement=agree / judged if judged else None, agreement_votes=judged,
    )  # fmt: skip
