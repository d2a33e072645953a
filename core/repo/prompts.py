"""The prompt set the pool draws from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from core.db.models import DEFAULT_CAMPAIGN_ID, Comparison, Prompt
from core.paths import SHIPPED_EVAL_PROMPTS, SHIPPED_PROMPTS
from core.schemas.generation import MAX_PROMPT_CHARS
from core.schemas.text import storable_text
from core.states import ComparisonKind, ComparisonState, PromptSource


def read_prompt_file(path: Path) -> list[str]:
    """One prompt per line; blank lines and lines starting with # are ignored."""
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def add_prompts(
    session: Session, texts: list[str], source: PromptSource = PromptSource.admin, for_eval: bool = False,
    campaign_id: int = DEFAULT_CAMPAIGN_ID,
) -> tuple[int, int]:
    """Add prompts to a campaign, skipping ones it has; returns (added, skipped). ValueError on bad text."""
    cleaned = []
    for text in texts:
        text = " ".join(text.split())
        if not text:
            raise ValueError("a prompt must not be blank")
        if len(text) > MAX_PROMPT_CHARS:
            raise ValueError(f"a prompt is longer than {MAX_PROMPT_CHARS} characters: {text[:40]!r}…")
        cleaned.append(storable_text(text))
    unique = list(dict.fromkeys(cleaned))
    ours = Prompt.campaign_id == campaign_id
    existing = set(session.scalars(select(Prompt.text).where(ours, Prompt.text.in_(unique)))) if unique else set()
    new = [t for t in unique if t not in existing]
    session.add_all(Prompt(campaign_id=campaign_id, text=t, source=source, for_eval=for_eval, active=True) for t in new)
    session.flush()
    return len(new), len(texts) - len(new)


def seed_shipped_prompts(session: Session) -> int:
    """Load the shipped scene prompts and their evaluation set when the prompt table is empty, and the
    evaluation set alone into an install that runs on the shipped prompts without one (it predates
    the set); returns how many were added. Only the default campaign gets them: others bring their own."""
    if not session.scalar(select(func.count(Prompt.id)).where(Prompt.campaign_id == DEFAULT_CAMPAIGN_ID)):
        added = add_prompts(session, read_prompt_file(SHIPPED_PROMPTS), source=PromptSource.shipped)[0]
    elif session.scalar(select(Prompt.id).where(Prompt.for_eval.is_(True), Prompt.campaign_id == DEFAULT_CAMPAIGN_ID)
                        .limit(1)) is not None:  # fmt: skip
        return 0
    elif session.scalar(select(Prompt.id).where(Prompt.source == PromptSource.shipped,
                                                Prompt.campaign_id == DEFAULT_CAMPAIGN_ID)
                        .limit(1)) is None:  # fmt: skip
        return 0  # the admins' own prompt set: their evaluation set is theirs to add
    else:
        added = 0
    eval_prompts = read_prompt_file(SHIPPED_EVAL_PROMPTS)
    return added + add_prompts(session, eval_prompts, source=PromptSource.shipped, for_eval=True)[0]


def active_prompts(session: Session, for_eval: bool = False, campaign_id: int = DEFAULT_CAMPAIGN_ID) -> list[Prompt]:
    query = (select(Prompt).where(Prompt.campaign_id == campaign_id, Prompt.active.is_(True),
                                  Prompt.for_eval.is_(for_eval)).order_by(Prompt.id))  # fmt: skip
    return list(session.scalars(query))


@dataclass(frozen=True)
class PromptUsage:
    prompt: Prompt
    pairs: int  # comparisons made from it (train and evaluation)
    votes: int  # votes on those


def prompt_usage(session: Session, limit: int, offset: int = 0, prompt_id: int | None = None,
                 campaign_id: int = DEFAULT_CAMPAIGN_ID) -> list[PromptUsage]:  # fmt: skip
    """A campaign's prompts (or one prompt), newest first, with how often they were used."""
    usage = (
        select(Comparison.prompt_id, func.count(Comparison.id).label("pairs"),
               func.coalesce(func.sum(Comparison.vote_count), 0).label("votes"))
        .where(Comparison.prompt_id.is_not(None) if prompt_id is None else Comparison.prompt_id == prompt_id)
        .group_by(Comparison.prompt_id)
        .subquery()
    )  # fmt: skip
    query = select(Prompt, func.coalesce(usage.c.pairs, 0), func.coalesce(usage.c.votes, 0))
    query = query.where(Prompt.id == prompt_id if prompt_id is not None else Prompt.campaign_id == campaign_id)
    rows = session.execute(
        query.outerjoin(usage, usage.c.prompt_id == Prompt.id)
        .order_by(Prompt.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return [PromptUsage(prompt, pairs, votes) for prompt, pairs, votes in rows]


def update_prompt(session: Session, prompt_id: int, active: bool | None, for_eval: bool | None) -> Prompt:
    """Retire or restore a prompt, or move it in or out of the evaluation set. A retired prompt's
    waiting train pairs leave the pool; its votes stay training data."""
    prompt = session.get(Prompt, prompt_id)
    if prompt is None:
        raise LookupError(f"prompt {prompt_id} does not exist")
    if for_eval is not None:
        prompt.for_eval = for_eval
    if active is not None:
        prompt.active = active
        if not active:
            session.execute(
                update(Comparison)
                .where(Comparison.prompt_id == prompt_id, Comparison.kind == ComparisonKind.train,
                       Comparison.state == ComparisonState.ready)
                .values(state=ComparisonState.retired)
            )  # fmt: skip
    session.flush()
    return prompt
