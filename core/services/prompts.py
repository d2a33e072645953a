"""The prompt set the pool draws from, and the fixed evaluation set."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from core.db.models import DEFAULT_CAMPAIGN_ID
from core.db.session import session_scope
from core.repo import prompts as repo
from core.repo.prompts import PromptUsage
from core.services import campaigns, prompt_filter
from core.settings import Settings, get_settings
from core.states import PromptSource


class PromptsBusy(RuntimeError):
    """The same prompts were being added concurrently; a retry settles it."""


def add_prompts(texts: list[str], source: PromptSource, for_eval: bool = False, settings: Settings | None = None,
                campaign: str = campaigns.DEFAULT) -> tuple[int, int]:  # fmt: skip
    """Add prompts to a campaign, skipping ones it has; (added, skipped). ValueError names a bad prompt, or
    the prompt filter's rule that refuses one (nothing is added then); UnknownCampaign, or CampaignRefused
    for an archived campaign. Evaluation prompts (`for_eval`) are the campaign's evaluation set: its
    candidates, promotions and arena matches are rendered on them."""
    found, settings = prompt_filter.rules(), settings or get_settings()
    for text in texts:
        reason = prompt_filter.refusal(text, settings, found, show_pattern=True)  # admins add prompts
        if reason:
            raise ValueError(f"{text[:80]!r}: {reason}")
    try:
        with session_scope() as session:
            campaign_id = campaigns.by_name(session, campaign, active=True).id
            return repo.add_prompts(session, texts, source=source, for_eval=for_eval, campaign_id=campaign_id)
    except IntegrityError as exc:
        raise PromptsBusy("these prompts were being added concurrently; retry") from exc


def seed_shipped_prompts() -> int:
    """The embedded model's prompt set and evaluation set, where they belong (see repo.prompts)."""
    with session_scope() as session:
        return repo.seed_shipped_prompts(session)


def list_prompts(limit: int = 500, offset: int = 0, campaign: str = campaigns.DEFAULT) -> list[PromptUsage]:
    """A campaign's prompts, newest first; UnknownCampaign if there is no such campaign."""
    with session_scope() as session:
        return repo.prompt_usage(session, limit, offset, campaign_id=campaigns.by_name(session, campaign).id)


def update_prompt(prompt_id: int, active: bool | None = None, for_eval: bool | None = None) -> PromptUsage:
    """Retire/restore a prompt or move it in or out of its campaign's evaluation set; LookupError when it
    does not exist."""
    with session_scope() as session:
        repo.update_prompt(session, prompt_id, active, for_eval)
        return repo.prompt_usage(session, limit=1, prompt_id=prompt_id)[0]


def evaluation_prompts(campaign_id: int = DEFAULT_CAMPAIGN_ID) -> list[str]:
    """A campaign's fixed evaluation set's prompts, in order."""
    with session_scope() as session:
        return [p.text for p in repo.active_prompts(session, for_eval=True, campaign_id=campaign_id)]
