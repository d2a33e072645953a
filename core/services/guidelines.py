"""The guidelines labelers vote under: the question over each pair and short rich text (core/guidelines.py),
set by admins, each change a new version. A vote names the version the labeler was shown."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.db.models import Campaign, Guidelines
from core.db.session import session_scope
from core.guidelines import blocks
from core.services import campaigns
from core.settings import get_settings

DEFAULT_QUESTION = "Which image matches the prompt better?"


class GuidelinesConflict(RuntimeError):
    """Another admin saved a version at the same moment: read it, then save again."""


class UnknownGuidelines(ValueError):
    """A vote names a guidelines version that was never set."""


@dataclass(frozen=True)
class CurrentGuidelines:
    """The question over each pair and the guidelines, as labelers are shown them now."""

    version: int  # 0: none set yet (the default question, no text)
    question: str
    body: str  # as the admin wrote it
    blocks: list[dict]  # parsed (core/guidelines.py): what the labeling page shows
    set_by: str | None
    updated_at: datetime | None


def _current(session: Session, campaign: Campaign) -> CurrentGuidelines:
    row = session.scalars(select(Guidelines).where(Guidelines.campaign_id == campaign.id)
                          .order_by(Guidelines.version.desc()).limit(1)).first()  # fmt: skip
    if row is None:
        return CurrentGuidelines(0, DEFAULT_QUESTION, "", [], None, None)
    return CurrentGuidelines(row.version, row.question, row.body, blocks(row.body), row.set_by, row.created_at)


def current(campaign: str = campaigns.DEFAULT, labeler_id: int | None = None) -> CurrentGuidelines:
    """A campaign's guidelines; for a labeler, NotInCampaign unless they take part in it."""
    with session_scope() as session:
        found = campaigns.by_name(session, campaign)
        if labeler_id is not None:
            campaigns.check_member(session, found, labeler_id)
        return _current(session, found)


def set_guidelines(question: str, body: str, by: str, campaign: str = campaigns.DEFAULT) -> CurrentGuidelines:
    """A new version of a campaign's guidelines (the previous ones stay: votes name them). Versions are
    numbered across the install, so a version names one campaign's text."""
    try:
        with session_scope() as session:
            found = campaigns.by_name(session, campaign, active=True)
            version = (session.scalar(select(func.max(Guidelines.version))) or 0) + 1
            session.add(Guidelines(version=version, campaign_id=found.id, question=question.strip(),
                                   body=body.strip(), set_by=by))  # fmt: skip
            session.flush()
            saved = _current(session, found)
    except IntegrityError as exc:  # the same version number, saved by someone else first
        raise GuidelinesConflict("the guidelines changed while you edited them; reload and save again") from exc
    _seen_newest(version)
    return saved


# The newest version this process has seen, per database: versions only grow, so a vote naming an older one
# needs no query.
_newest: dict[str, int] = {}


def _seen_newest(version: int) -> int:
    url = get_settings().sqlalchemy_url
    _newest[url] = max(_newest.get(url, 0), version)
    return _newest[url]


def check_version(version: int | None) -> None:
    """UnknownGuidelines unless `version` is None (not said), 0 (none were set) or a version that exists."""
    if version is None or version <= _newest.get(get_settings().sqlalchemy_url, 0):
        return
    with session_scope() as session:
        newest = _seen_newest(session.scalar(select(func.max(Guidelines.version))) or 0)
    if version > newest:
        raise UnknownGuidelines(f"guidelines version {version} does not exist (the newest is {newest})")
