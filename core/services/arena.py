"""The arena, one per campaign: every checkpoint of its lineage with human evaluation votes, ranked on one
Bradley-Terry scale (core/bradley_terry.py) from its labelers' votes on its evaluation pairs, the base
(every lineage's root) anchored at 0; and matches an admin queues between two checkpoints of one lineage
(core/repo/matches.py), made by the generate worker.
Only people in good standing count: AI labelers' votes and those of labelers out of good standing
(as of now: one found out later drops out of the ranking at once) are left out."""

from __future__ import annotations

import threading
from collections.abc import Collection

from sqlalchemy import func, select

from core.bradley_terry import Outcome, Ranking, rank
from core.db.models import ArenaMatch, Checkpoint, Comparison, Evaluation, Vote
from core.db.session import session_scope
from core.repo import matches as repo
from core.repo.matches import MatchRefused
from core.services import campaigns
from core.services.evaluations import uncounted_voters
from core.settings import Settings, get_settings
from core.states import BASE_CHECKPOINT_ID, DECISIVE, DEFAULT_CAMPAIGN_ID, Choice

BOOTSTRAP = 200


def outcomes(uncounted: Collection[int], campaign_id: int = DEFAULT_CAMPAIGN_ID) -> list[Outcome]:
    """Every decisive or tied vote on one campaign's evaluation pairs (but the `uncounted` labelers'), as
    checkpoint against checkpoint."""
    query = (
        select(Evaluation.checkpoint_id, Evaluation.baseline_id, Comparison.generation_a_id, Vote.choice,
               Vote.winner_generation_id)
        .join(Comparison, Comparison.evaluation_id == Evaluation.id)
        .join(Vote, Vote.comparison_id == Comparison.id)
        .where(Vote.choice.in_((*DECISIVE, Choice.tie)), Comparison.campaign_id == campaign_id)
        .order_by(Vote.id)
    )  # fmt: skip
    if uncounted:
        query = query.where(Vote.labeler_id.not_in(uncounted))
    with session_scope() as session:
        rows = session.execute(query).all()
    found = []
    for new, old, new_image, choice, winner_image in rows:  # image A of an eval pair is the new checkpoint's
        if choice == Choice.tie:
            found.append(Outcome(new, old, tie=True))
        else:
            found.append(Outcome(new, old) if winner_image == new_image else Outcome(old, new))
    return found


def _votes_key(settings: Settings, campaign_id: int) -> tuple:
    """Changes whenever one of the campaign's evaluation votes is added or removed, whenever whose votes
    count changes (or another database is read): the ranking is recomputed only then. Ends with the
    uncounted labelers."""
    with session_scope() as session:
        uncounted = tuple(sorted(uncounted_voters(session, settings)))
        return *session.execute(
            select(func.count(Vote.id), func.max(Vote.id), func.sum(Vote.comparison_id),
                   func.sum(func.coalesce(Vote.winner_generation_id, 0)), func.max(Comparison.checkpoint_id))
            .join(Comparison, Comparison.id == Vote.comparison_id)
            .where(Comparison.evaluation_id.is_not(None), Comparison.campaign_id == campaign_id)
        ).one(), uncounted  # fmt: skip


_cache: dict[int, tuple[tuple, Ranking]] = {}  # per campaign: the ranking of the newest votes seen
_fitting = threading.Lock()


def arena(bootstrap: int = BOOTSTRAP, settings: Settings | None = None, campaign: str = campaigns.DEFAULT) -> Ranking:
    """A campaign's ranking with its checkpoints' names, fitted again only when its evaluation votes (or
    whose count) changed (a fit with its bootstrap takes a few hundred ms; the console asks every few
    seconds). UnknownCampaign when no campaign has that name (an archived one keeps its arena)."""
    with session_scope() as session:
        campaign_id = campaigns.by_name(session, campaign).id
    votes = _votes_key(settings or get_settings(), campaign_id)
    key, uncounted = (*votes, bootstrap), votes[-1]
    cached = _cache.get(campaign_id)
    ranking = cached[1] if cached and cached[0] == key else None
    if ranking is None:
        with _fitting:  # concurrent requests for a new ranking fit it once
            cached = _cache.get(campaign_id)
            ranking = cached[1] if cached and cached[0] == key else None
            if ranking is None:
                ranking = rank(outcomes(uncounted, campaign_id), anchor=BASE_CHECKPOINT_ID, bootstrap=bootstrap)
                _cache[campaign_id] = (key, ranking)
    ids = [r.checkpoint_id for r in ranking.ratings]
    with session_scope() as session:
        names = dict(session.execute(select(Checkpoint.id, Checkpoint.name).where(Checkpoint.id.in_(ids))).all())
    return ranking.named(names)


def request_match(a: int, b: int, by: str) -> ArenaMatch:
    """Queue a match of two checkpoints of one lineage: the generate worker renders their campaign's
    evaluation set with both between pool batches, then its pairs are served blind to the campaign's
    labelers before train pairs. LookupError for a checkpoint that does not exist; MatchRefused (a
    ValueError) names why it cannot be queued."""
    with session_scope() as session:
        return repo.create_match(session, a, b, by)


def matches(limit: int = 100, campaign: str | None = None) -> list[ArenaMatch]:
    """The newest matches first (of one campaign's lineage: UnknownCampaign if none has that name)."""
    with session_scope() as session:
        campaign_id = campaigns.by_name(session, campaign).id if campaign else None
        return repo.list_matches(session, limit, campaign_id)


__all__ = ["MatchRefused", "arena", "matches", "outcomes", "request_match"]
