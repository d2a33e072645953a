"""The prompt filter's rules run on RE2: linear in the prompt, whatever pattern an admin writes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from core.db.models import PromptFilter
from core.db.session import session_scope
from core.services import prompt_filter
from core.services.prompt_filter import Rule, RuleInvalid
from tests.conftest import REPO_ROOT

NESTED = r"(\w+\s?)+nsfw"  # Python's re: ~3 s at 24 characters, doubling per character


def test_a_thirty_character_prompt_against_a_nested_repetition_is_checked_at_once():
    code = f"from core.services.prompt_filter import Rule; print(Rule(1, {NESTED!r}, True).matches('a' * 30 + '!'))"
    try:  # a child process: a backtracking engine would hold this one for minutes, past any timeout
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=20, cwd=REPO_ROOT)
    except subprocess.TimeoutExpired:
        pytest.fail("checking a 30-character prompt against a nested repetition took over 20 s")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_word_rules_match_whole_words_in_any_case_and_script():
    gore = Rule(1, "gore", False)
    assert gore.matches("a scene of GORE at dusk") and gore.matches("gore") and gore.matches("post-gore!")
    assert not gore.matches("a gorey-free red circle") and not gore.matches("ügore") and not gore.matches("gore_x")
    assert Rule(2, "a.b", False).matches("see a.b here") and not Rule(2, "a.b", False).matches("axb")  # literal
    assert Rule(3, r"blood\w*", True).matches("BLOODY hands")


@pytest.mark.parametrize("pattern", [r"(a)\1", r"cat(?=s)", r"(?<!x)y", "("])
def test_a_pattern_re2_cannot_run_is_refused_when_added(sqlite_db, pattern):
    with pytest.raises(RuleInvalid, match="RE2"):
        prompt_filter.add_rule(pattern, True, by="test")
    assert prompt_filter.list_rules() == []


@pytest.mark.parametrize("is_regex", [True, False])
def test_a_pattern_with_a_lone_surrogate_is_refused_not_a_server_error(sqlite_db, is_regex):
    """Valid JSON ("\\ud800") but no UTF-8: RE2 would raise UnicodeEncodeError (a 500), not re2.error."""
    with pytest.raises(RuleInvalid, match="UTF-8"):
        prompt_filter.add_rule("bad\ud800", is_regex, by="test")
    assert prompt_filter.list_rules() == []


def test_a_stored_rule_re2_cannot_run_refuses_prompts_by_its_id(sqlite_db):
    with session_scope() as session:  # a rule added while rules ran on Python's re
        session.add(PromptFilter(pattern=r"cat(?=s)", is_regex=True, created_by="test"))
    [rule] = prompt_filter.rules()
    reason = prompt_filter.refusal("two cats", sqlite_db)
    assert reason == f"prompt filter rule {rule.id} cannot be evaluated; an admin must replace it"
    assert "cat(" not in reason
