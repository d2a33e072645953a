"""Campaigns: several preference loops on one install, each with its question, guidelines and labelers.
Admins create and archive them and assign labelers (a labeler may be in several, each with a share);
`default` holds everything from before campaigns and is open to every labeler."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.db.models import DEFAULT_CAMPAIGN_ID, Campaign, CampaignMember, Comparison, Labeler, Prompt, Vote, utcnow
from core.db.session import read_scope, session_scope
from core.repo.checkpoints import active_checkpoint_id
from core.repo.comparisons import ready_pool_count
from core.schemas.text import CAMPAIGN_NAME_PATTERN

DEFAULT = "default"
NAME_PATTERN = CAMPAIGN_NAME_PATTERN


class UnknownCampaign(LookupError):
    """No campaign has this name."""


class CampaignExists(ValueError):
    """A campaign with this name exists (archived ones keep their names)."""


class CampaignRefused(ValueError):
    """The change cannot be made to this campaign as it is (archived, or the default)."""


class UnknownLabeler(LookupError):
    """No labeler has this id."""


class NotInCampaign(PermissionError):
    """A labeler acted in a campaign they are not in."""


@dataclass(frozen=True)
class CampaignView:
    """A campaign as admins see it."""

    id: int  # what rounds, checkpoints and deployments name it by
    name: str
    description: str
    open_to_all: bool  # every labeler takes part, no assignment needed
    labelers: int  # assigned (an open campaign counts only those given a share)
    created_by: str
    created_at: datetime
    archived_at: datetime | None
    prompts: int = 0  # active ones, which its pool draws from
    ready_pairs: int = 0  # its pool: train pairs waiting for votes, not on anyone's screen
    votes: int = 0  # cast on its pairs
    blend_weight: float = 0.0  # its adapter's weight in the install's default blend
    round_defaults: dict | None = None  # DPO settings its rounds start from (a round's own config wins)


@dataclass(frozen=True)
class Member:
    """A labeler assigned to a campaign."""

    labeler_id: int
    name: str
    share: float
    added_by: str
    added_at: datetime


@dataclass(frozen=True)
class Membership:
    """One of a labeler's campaigns and the share of their pairs it gets."""

    name: str
    share: float


def by_name(session: Session, name: str, *, active: bool = False) -> Campaign:
    """The campaign called `name`; UnknownCampaign if none is, CampaignRefused if `active` and it is archived."""
    campaign = session.scalar(select(Campaign).where(Campaign.name == name))
    if campaign is None:
        raise UnknownCampaign(f"no campaign is named {name!r}")
    if active and campaign.archived_at is not None:
        raise CampaignRefused(f"campaign {name!r} is archived")
    return campaign


def _view(session: Session, campaign: Campaign) -> CampaignView:
    assigned = session.scalar(select(func.count()).select_from(CampaignMember)
                              .where(CampaignMember.campaign_id == campaign.id))  # fmt: skip
    prompts = session.scalar(select(func.count(Prompt.id)).where(Prompt.campaign_id == campaign.id, Prompt.active,
                                                                 Prompt.for_eval.is_(False)))  # fmt: skip
    votes = session.scalar(select(func.count(Vote.id)).join(Comparison, Comparison.id == Vote.comparison_id)
                           .where(Comparison.campaign_id == campaign.id))  # fmt: skip
    ready = ready_pool_count(session, active_checkpoint_id(session, campaign.id), campaign.id)
    return CampaignView(campaign.id, campaign.name, campaign.description, campaign.open_to_all, assigned or 0,
                        campaign.created_by, campaign.created_at, campaign.archived_at, prompts or 0, ready,
                        votes or 0, campaign.blend_weight, dict(campaign.round_defaults or {}))  # fmt: skip


def list_campaigns(archived: bool = False) -> list[CampaignView]:
    """The campaigns, oldest first; archived ones only when asked."""
    with read_scope() as session:
        query = select(Campaign).order_by(Campaign.id)
        if not archived:
            query = query.where(Campaign.archived_at.is_(None))
        return [_view(session, c) for c in session.scalars(query)]


def get(name: str) -> CampaignView:
    with read_scope() as session:
        return _view(session, by_name(session, name))


def create(name: str, description: str, open_to_all: bool, by: str) -> CampaignView:
    """A new campaign with no labelers yet (unless open to all); CampaignExists if the name is taken."""
    if not re.fullmatch(NAME_PATTERN, name):
        raise CampaignRefused(f"{name!r} is not a campaign name: lowercase letters, digits and '-', up to 63")
    try:
        with session_scope() as session:
            if session.scalar(select(Campaign.id).where(Campaign.name == name)) is not None:
                raise CampaignExists(f"a campaign named {name!r} exists")
            campaign = Campaign(name=name, description=description.strip(), open_to_all=open_to_all, created_by=by)
            session.add(campaign)
            session.flush()
            return _view(session, campaign)
    except IntegrityError as exc:  # created concurrently under the same name
        raise CampaignExists(f"a campaign named {name!r} exists") from exc


def update(name: str, description: str | None = None, open_to_all: bool | None = None) -> CampaignView:
    """Change a campaign's description, or whether every labeler takes part (closing `default` leaves only
    the labelers assigned to it)."""
    with session_scope() as session:
        campaign = by_name(session, name, active=True)
        if description is not None:
            campaign.description = description.strip()
        if open_to_all is not None:
            campaign.open_to_all = open_to_all
        session.flush()
        return _view(session, campaign)


def archive(name: str) -> CampaignView:
    """Its labelers get no more pairs from it; its data stays. The default campaign cannot be archived."""
    with session_scope() as session:
        campaign = by_name(session, name)
        if campaign.id == DEFAULT_CAMPAIGN_ID:
            raise CampaignRefused("the default campaign cannot be archived")
        if campaign.archived_at is None:
            campaign.archived_at = utcnow()
        return _view(session, campaign)


def assign(name: str, labeler_id: int, share: float, by: str) -> Member:
    """Puts a labeler in the campaign with a share of their pairs (or changes their share)."""
    if not 0 < share <= 1:
        raise CampaignRefused(f"a share is in (0, 1], not {share}")
    with session_scope() as session:
        campaign = by_name(session, name, active=True)
        labeler = session.get(Labeler, labeler_id)
        if labeler is None:
            raise UnknownLabeler(f"no labeler has id {labeler_id}")
        member = session.get(CampaignMember, (campaign.id, labeler_id))
        if member is None:
            member = CampaignMember(campaign_id=campaign.id, labeler_id=labeler_id, share=share, added_by=by)
            session.add(member)
        else:
            member.share = share
        session.flush()
        return Member(labeler_id, labeler.name, member.share, member.added_by, member.added_at)


def unassign(name: str, labeler_id: int) -> None:
    """Takes a labeler out of the campaign (their votes in it stay)."""
    with session_scope() as session:
        campaign = by_name(session, name)
        member = session.get(CampaignMember, (campaign.id, labeler_id))
        if member is None:
            raise UnknownLabeler(f"labeler {labeler_id} is not assigned to campaign {name!r}")
        session.delete(member)


def members(name: str) -> list[Member]:
    with read_scope() as session:
        campaign = by_name(session, name)
        rows = session.execute(select(CampaignMember, Labeler.name).join(Labeler)
                               .where(CampaignMember.campaign_id == campaign.id)
                               .order_by(Labeler.name)).all()  # fmt: skip
        return [Member(m.labeler_id, labeler_name, m.share, m.added_by, m.added_at) for m, labeler_name in rows]


def memberships(session: Session, labeler_id: int) -> list[tuple[Campaign, float]]:
    """The active campaigns a labeler takes part in, with their shares: every open campaign (share 1 unless
    an admin set one) and the ones they are assigned to."""
    mine = CampaignMember.campaign_id == Campaign.id, CampaignMember.labeler_id == labeler_id
    rows = session.execute(select(Campaign, CampaignMember.share).outerjoin(CampaignMember, and_(*mine))
                           .where(Campaign.archived_at.is_(None),
                                  or_(Campaign.open_to_all, CampaignMember.share.is_not(None)))
                           .order_by(Campaign.id)).all()  # fmt: skip
    return [(campaign, 1.0 if share is None else share) for campaign, share in rows]


def labeled(session: Session, campaign: Campaign) -> bool:
    """Whether anyone labels this campaign: it is open to all, or has labelers assigned."""
    return campaign.open_to_all or session.scalar(
        select(CampaignMember.labeler_id).where(CampaignMember.campaign_id == campaign.id).limit(1)) is not None


def is_active(session: Session, campaign_id: int) -> bool:
    """Whether the campaign exists and is not archived."""
    campaign = session.get(Campaign, campaign_id)
    return campaign is not None and campaign.archived_at is None


def active_campaigns(session: Session) -> list[Campaign]:
    """The campaigns not archived, oldest first."""
    return list(session.scalars(select(Campaign).where(Campaign.archived_at.is_(None)).order_by(Campaign.id)))


def serving_checkpoints(session: Session) -> dict[str, int]:
    """Each active campaign's name → the checkpoint serving it (the base until one of its lineage is promoted)."""
    return {c.name: active_checkpoint_id(session, c.id) for c in active_campaigns(session)}


def draw_order(session: Session, labeler_id: int, rng: random.Random | None = None) -> list[tuple[int, int]]:
    """The labeler's campaigns as (campaign id, serving checkpoint id), in the order to look for their next
    pair: drawn one after another, each with probability in proportion to its share (so the first is the
    one their share picks, and an empty pool in one never leaves them waiting while another has pairs)."""
    rng = rng or random.Random()
    # Sorting by u ** (1 / share), u uniform, is a weighted draw without replacement (Efraimidis–Spirakis).
    drawn = sorted(memberships(session, labeler_id), key=lambda found: rng.random() ** (1 / found[1]), reverse=True)
    return [(campaign.id, active_checkpoint_id(session, campaign.id)) for campaign, _ in drawn]


def check_voter(session: Session, comparison_id: int, labeler_id: int) -> None:
    """NotInCampaign unless the labeler takes part in the campaign this comparison belongs to."""
    campaign = session.scalar(select(Campaign).join(Comparison, Comparison.campaign_id == Campaign.id)
                              .where(Comparison.id == comparison_id))  # fmt: skip
    if campaign is not None:  # no such comparison: the vote itself says so
        check_member(session, campaign, labeler_id)


def campaigns_of(labeler_id: int) -> list[Membership]:
    with read_scope() as session:
        return [Membership(c.name, share) for c, share in memberships(session, labeler_id)]


def check_member(session: Session, campaign: Campaign, labeler_id: int) -> None:
    """NotInCampaign unless the labeler takes part in this (active) campaign."""
    if campaign.archived_at is not None:
        raise NotInCampaign(f"campaign {campaign.name!r} is archived")
    if campaign.open_to_all:
        return
    if session.get(CampaignMember, (campaign.id, labeler_id)) is None:
        raise NotInCampaign(f"you are not a labeler of campaign {campaign.name!r}")
