r"""The prompt filter: words, phrases or patterns no prompt may contain, managed by admins, and an
optional classifier hook (DPOLOOP_PROMPT_CLASSIFIER="module:function", called with the prompt,
returning a reason to refuse or None). It guards POST /generations, the prompt set and imports,
and can retire existing prompts on demand.

Rules run on RE2, whose time is linear in the prompt: an admin's pattern with nested repetition
(`(\w+\s?)+x`) would let Python's backtracking engine hold the API for minutes on one 30-character
prompt. A pattern RE2 cannot compile (backreferences, look-around) is refused when it is added.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache, lru_cache

import re2
from sqlalchemy import delete, select, update

from core.db.models import Prompt, PromptFilter
from core.db.session import session_scope
from core.schemas.text import storable_text
from core.settings import Settings


class RuleInvalid(ValueError):
    pass


class ClassifierUnavailable(RuntimeError):
    """The configured classifier could not be imported or failed: prompts wait rather than pass unchecked."""


# A word rule matches whole words: not next to a letter, digit or underscore (Python's \w; RE2's is ASCII only).
NOT_WORD = r"[^\pL\pN_]"


@lru_cache(maxsize=256)
def compiled(pattern: str, is_regex: bool) -> re2._Regexp:
    """The rule as RE2 runs it, any case; RuleInvalid when RE2 cannot compile it."""
    source = pattern if is_regex else f"(?:^|{NOT_WORD}){re2.escape(pattern)}(?:{NOT_WORD}|$)"
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False
    try:
        return re2.compile(source, options)
    except re2.error as exc:
        why = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise RuleInvalid(f"not a regular expression RE2 accepts (no look-around or backreferences): {why}") from exc


@dataclass(frozen=True)
class Rule:
    id: int
    pattern: str
    is_regex: bool

    def matches(self, text: str) -> bool:
        """RuleInvalid for a stored rule RE2 cannot compile (added before rules ran on RE2)."""
        return compiled(self.pattern, self.is_regex).search(text) is not None


def list_rules() -> list[PromptFilter]:
    with session_scope() as session:
        return list(session.scalars(select(PromptFilter).order_by(PromptFilter.id)))


def rules() -> list[Rule]:
    with session_scope() as session:
        rows = session.scalars(select(PromptFilter).order_by(PromptFilter.id))
        return [Rule(r.id, r.pattern, r.is_regex) for r in rows]


def add_rule(pattern: str, is_regex: bool, by: str) -> PromptFilter:
    pattern = pattern.strip()
    if not pattern:
        raise RuleInvalid("the pattern is empty")
    try:
        storable_text(pattern)  # RE2 encodes the pattern as UTF-8: a lone surrogate would fail there, not as re2.error
    except ValueError as exc:
        raise RuleInvalid(str(exc)) from exc
    compiled(pattern, is_regex)
    with session_scope() as session:
        if session.scalar(select(PromptFilter.id).where(PromptFilter.pattern == pattern)) is not None:
            raise RuleInvalid(f"the rule {pattern!r} exists")
        row = PromptFilter(pattern=pattern, is_regex=is_regex, created_by=by)
        session.add(row)
        session.flush()
        return row


def delete_rule(rule_id: int) -> None:
    with session_scope() as session:
        if session.execute(delete(PromptFilter).where(PromptFilter.id == rule_id)).rowcount == 0:
            raise LookupError(f"prompt filter rule {rule_id} does not exist")


@cache
def _classifier(spec: str):
    module, _, name = spec.partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise ClassifierUnavailable(f"prompt classifier {spec!r} cannot be loaded: {exc}") from exc


def refusal(text: str, settings: Settings, found: list[Rule] | None = None, show_pattern: bool = False) -> str | None:
    """Why this prompt is refused (naming the rule by id; by its pattern too where only admins read it,
    show_pattern), or None. ClassifierUnavailable if the hook fails."""
    for rule in rules() if found is None else found:
        named = f"prompt filter rule {rule.id}" + (f" ({rule.pattern!r})" if show_pattern else "")
        try:
            if rule.matches(text):
                return f"the prompt matches {named}"
        except RuleInvalid:  # refuse rather than let prompts pass a rule nobody can evaluate
            return f"{named} cannot be evaluated; an admin must replace it"
    if settings.prompt_classifier:
        try:
            reason = _classifier(settings.prompt_classifier)(text)
        except ClassifierUnavailable:
            raise
        except Exception as exc:
            raise ClassifierUnavailable(f"prompt classifier failed: {type(exc).__name__}: {exc}") from exc
        if reason:
            return f"the prompt classifier refused it: {reason}"
    return None


def apply_to_prompts(settings: Settings) -> list[tuple[int, str, str]]:
    """Retire every active prompt the filter refuses; returns (id, text, reason) of each."""
    found = rules()
    with session_scope() as session:
        prompts = session.execute(select(Prompt.id, Prompt.text).where(Prompt.active.is_(True))).all()
    refused = [(pid, text, why) for pid, text in prompts if (why := refusal(text, settings, found, show_pattern=True))]
    if refused:
        with session_scope() as session:
            session.execute(update(Prompt).where(Prompt.id.in_([pid for pid, _, _ in refused])).values(active=False))
    return refused
