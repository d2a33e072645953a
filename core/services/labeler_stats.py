"""How each labeler labels: volume, pace, decision time, how often they pass on a pair, and how often
their decisive votes agree with the other labelers' majority on the same pair (leave-one-out); over
every vote, or over one campaign's (its question may split people differently than another's)."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, case, func, or_, select, true

from core.db.models import Campaign, CampaignMember, Comparison, Labeler, Vote
from core.db.session import session_scope
from core.services import campaigns
from core.states import DECISIVE, Choice


@dataclass
class LabelerStats:
    """How one labeler labels (GET /admin/labelers/stats)."""

    labeler_id: int
    name: str
    role: str
    active: bool
    ai: bool
    votes: int
    votes_last_hour: int
    median_decision_ms: float | None
    tie_share: float | None
    both_bad_share: float | None
    skip_share: float | None
    agreement: float | None  # decisive votes that side with the others' majority (leave-one-out), where there is one
    agreement_votes: int  # how many votes that share rests on


def in_campaign(campaign_id: int | None):
    """The votes counted: every vote (None), or those on one campaign's pairs."""
    if campaign_id is None:
        return true()
    return Vote.comparison_id.in_(select(Comparison.id).where(Comparison.campaign_id == campaign_id))


def campaign_id_of(session, campaign: str | None) -> int | None:
    """None for every campaign; UnknownCampaign when no campaign has the name (an archived one counts)."""
    return None if campaign is None else campaigns.by_name(session, campaign).id


def _labelers(session, campaign_id: int | None):
    """Every labeler, or a campaign's: its members (everyone, when it is open) and whoever voted in it."""
    query = select(Labeler).order_by(Labeler.id)
    campaign = None if campaign_id is None else session.get(Campaign, campaign_id)
    if campaign is None or campaign.open_to_all:
        return session.scalars(query)
    members = select(CampaignMember.labeler_id).where(CampaignMember.campaign_id == campaign_id)
    voted = select(Vote.labeler_id).where(in_campaign(campaign_id))
    return session.scalars(query.where(or_(Labeler.id.in_(members), Labeler.id.in_(voted))))


def labeler_stats(campaign: str | None = None) -> list[LabelerStats]:
    """Counted by the database, not by loading every vote: three grouped statements over the votes
    (bench/admin_api.py times it at 10,000 votes). With a campaign's name: its labelers, on its pairs."""
    since = datetime.now(UTC) - timedelta(hours=1)
    with session_scope() as session:
        campaign_id = campaign_id_of(session, campaign)
        counted = in_campaign(campaign_id)
        labelers = list(_labelers(session, campaign_id))
        choices: dict[int, Counter] = defaultdict(Counter)
        last_hour: Counter = Counter()
        recent = func.sum(case((Vote.created_at >= since, 1), else_=0))
        for labeler_id, choice, n, n_recent in session.execute(
            select(Vote.labeler_id, Vote.choice, func.count(), recent).where(counted)
            .group_by(Vote.labeler_id, Vote.choice)
        ):  # fmt: skip
            choices[labeler_id][choice] = n
            last_hour[labeler_id] += n_recent
        medians = {labeler_id: float(ms) for labeler_id, ms in session.execute(_median_decision_query(counted))}
        agreement = {row[0]: row[1:] for row in session.execute(_agreement_query(counted))}
    return [_stats(labeler, choices[labeler.id], last_hour[labeler.id], medians.get(labeler.id),
                   agreement.get(labeler.id, (0, 0))) for labeler in labelers]  # fmt: skip


def _median_decision_query(counted):
    """Per labeler: the median decision time, as the mean of the middle one or two of their ordered
    times (SQLite has no percentile function; window functions run on both databases)."""
    timed = and_(Vote.decision_ms.is_not(None), counted)
    ranked = select(Vote.labeler_id, Vote.decision_ms,
                    func.row_number().over(partition_by=Vote.labeler_id, order_by=Vote.decision_ms).label("k"),
                    func.count().over(partition_by=Vote.labeler_id).label("n")).where(timed).subquery()  # fmt: skip
    middle = ranked.c.k.in_([(ranked.c.n + 1) // 2, (ranked.c.n + 2) // 2])  # one row for odd n, two for even
    return select(ranked.c.labeler_id, func.avg(ranked.c.decision_ms)).where(middle).group_by(ranked.c.labeler_id)


def _agreement_query(counted):
    """Per labeler: (agreeing, judged) decisive votes. A pair has two possible winners, so a vote's
    leave-one-out majority is a comparison of counts: the others who chose the same image (same - 1)
    against those who chose the other (all - same); equal counts (nobody else, or an even split)
    judge nothing. Both counts are window functions over the decisive votes: one pass, no self-join."""
    decisive = Vote.choice.in_(DECISIVE)
    counted = select(
        Vote.labeler_id,
        func.count().over(partition_by=(Vote.comparison_id, Vote.winner_generation_id)).label("same"),
        func.count().over(partition_by=Vote.comparison_id).label("every"),
    ).where(decisive, counted).subquery()
    others_same, others_other = counted.c.same - 1, counted.c.every - counted.c.same
    return select(
        counted.c.labeler_id,
        func.sum(case((others_same > others_other, 1), else_=0)),
        func.sum(case((others_same != others_other, 1), else_=0)),
    ).group_by(counted.c.labeler_id)


def _stats(
    labeler: Labeler, choices: Counter, last_hour: int, median_ms: float | None, agreement: tuple
) -> LabelerStats:
    votes = sum(choices.values())
    agree, judged = (int(x or 0) for x in agreement)

    def share(choice: Choice) -> float | None:
        return choices[choice] / votes if votes else None

    return LabelerStats(
        labeler_id=labeler.id, name=labeler.name, role=labeler.role.value, active=labeler.active, ai=labeler.is_ai,
        votes=votes,
        votes_last_hour=last_hour, median_decision_ms=median_ms,
        tie_share=share(Choice.tie), both_bad_share=share(Choice.both_bad), skip_share=share(Choice.skip),
        agreement=agree / judged if judged else None, agreement_votes=judged,
    )  # fmt: skip
