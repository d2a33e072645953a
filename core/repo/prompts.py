"""The prompt set the pool draws from."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.db.models import Prompt
from core.paths import SHIPPED_EVAL_PROMPTS, SHIPPED_PROMPTS
from core.schemas.generation import MAX_PROMPT_CHARS
from core.schemas.text import storable_text
from core.states import PromptSource


def read_prompt_file(path: Path) -> list[str]:
    """One prompt per line; blank lines and lines starting with # are ignored."""
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def add_prompts(
    session: Session, texts: list[str], source: PromptSource = PromptSource.admin, for_eval: bool = False
) -> tuple[int, int]:
    """Add prompts, skipping ones already present; returns (added, skipped). Raises ValueError on bad text."""
    cleaned = []
    for text in texts:
        text = " ".join(text.split())
        if not text:
            raise ValueError("a prompt must not be blank")
        if len(text) > MAX_PROMPT_CHARS:
            raise ValueError(f"a prompt is longer than {MAX_PROMPT_CHARS} characters: {text[:40]!r}…")
        cleaned.append(storable_text(text))
    unique = list(dict.fromkeys(cleaned))
    existing = set(session.scalars(select(Prompt.text).where(Prompt.text.in_(unique)))) if unique else set()
    new = [t for t in unique if t not in existing]
    session.add_all(Prompt(text=t, source=source, for_eval=for_eval, active=True) for t in new)
    session.flush()
    return len(new), len(texts) - len(new)


def seed_shipped_prompts(session: Session) -> int:
    """Load the shipped scene prompts and their evaluation set when the prompt table is empty, and the
    evaluation set alone into an install that runs on the shipped prompts without one (it predates
    the set); returns how many were added."""
    if not session.scalar(select(func.count(Prompt.id))):
        added = add_prompts(session, read_prompt_file(SHIPPED_PROMPTS), source=PromptSource.shipped)[0]
    elif session.scalar(select(Prompt.id).where(Prompt.for_eval.is_(True)).limit(1)) is not None:
        return 0
    elif session.scalar(select(Prompt.id).where(Prompt.source == PromptSource.shipped).limit(1)) is None:
        return 0  # the admins' own prompt set: their evaluation set is theirs to add
    else:
        added = 0
    eval_prompts = read_prompt_file(SHIPPED_EVAL_PROMPTS)
    return added + add_prompts(session, eval_prompts, source=PromptSource.shipped, for_eval=True)[0]


def active_prompts(session: Session, for_eval: bool = False) -> list[Prompt]:
    query = select(Prompt).where(Prompt.active.is_(True), Prompt.for_eval.is_(for_eval)).order_by(Prompt.id)
    return list(session.scalars(query))
