"""Labelers and prompts."""

import pytest

from core.services import labelers, prompts
from core.states import PromptSource
from tests.helpers.data import make_labeler


def test_labelers_sign_in_by_token_and_admins_cannot_lock_themselves_out(sqlite_db):
    admin, admin_token = labelers.create_labeler("root", admin=True)
    alice, token = labelers.create_labeler("alice")
    with pytest.raises(labelers.NameTaken):
        labelers.create_labeler("alice")
    assert labelers.authenticate(token).id == alice.id and labelers.authenticate("nope") is None
    labelers.set_active(alice.id, False, by=admin)
    assert labelers.authenticate(token) is None
    with pytest.raises(labelers.SelfDisable):
        labelers.set_active(admin.id, False, by=admin)
    with pytest.raises(LookupError):
        labelers.set_active(999, True, by=admin)
    assert labelers.login_url(sqlite_db, token).endswith(f"/#token={token}")


def test_first_logins_are_made_once(sqlite_db):
    first = labelers.first_logins(sqlite_db)
    assert [line.split()[0] for line in first] == ["admin", "labeler"]
    assert labelers.first_logins(sqlite_db) == first and len(labelers.list_labelers()) == 2


def test_a_fresh_token_replaces_the_last_one(sqlite_db):
    old = labelers.fresh_token("sim-left")
    new = labelers.fresh_token("sim-left")
    assert labelers.authenticate(old) is None and labelers.authenticate(new).name == "sim-left"


def test_a_fresh_token_is_only_for_an_account_of_the_kind_asked(sqlite_db):
    """`ai-label` and `simulate-labelers` look their account up by name and kind: a person who holds the
    name keeps their token (ai-label would vote as them, and as a person's its votes would train)."""
    person, token = make_labeler("ai-scenes")  # an install from before the prefix was kept for AI accounts
    with pytest.raises(labelers.WrongKind, match="ai-scenes is a human labeler"):
        labelers.fresh_token("ai-scenes", ai=True)
    assert labelers.authenticate(token).id == person
    ai_token = labelers.fresh_token("ai-pickscore", ai=True)
    with pytest.raises(labelers.WrongKind, match="ai-pickscore is an AI labeler"):
        labelers.fresh_token("ai-pickscore")
    assert labelers.authenticate(ai_token).is_ai and labelers.fresh_token("ai-pickscore", ai=True) != ai_token


def test_the_ai_prefix_is_kept_for_ai_accounts(sqlite_db):
    for name in ("ai-scenes", "AI-Scenes"):
        with pytest.raises(labelers.NameReserved, match="ai-"):
            labelers.create_labeler(name)
    assert labelers.create_labeler("aida")[0].is_ai is False
    assert [x.name for x in labelers.list_labelers()] == ["aida"]


def test_prompts_are_cleaned_deduplicated_and_refused_when_blank(sqlite_db):
    assert prompts.add_prompts(["a red  circle", "a red circle", "a blue square"], PromptSource.admin) == (2, 1)
    with pytest.raises(ValueError, match="blank"):
        prompts.add_prompts(["  "], PromptSource.admin)
    assert prompts.seed_shipped_prompts() == 0  # the admins' own set: nothing shipped is added


def test_first_logins_are_readable_by_the_owner_only(sqlite_db):
    labelers.first_logins(sqlite_db)
    assert ((sqlite_db.data_dir / "first-logins.txt").stat().st_mode & 0o777) == 0o600
