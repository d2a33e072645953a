"""Campaigns, on SQLite and Postgres: the default one holds everything and is open to all; admins create,
assign with shares and archive; a labeler's campaigns and guidelines follow their assignments; bad names,
shares and unknown campaigns or labelers are refused with a reason."""

import pytest
from typer.testing import CliRunner

from cli.main import cli
from core.services import campaigns, guidelines
from tests.helpers.data import make_labeler
from tests.services import test_people_measure

any_db = test_people_measure.any_db  # the fixture: SQLite, then Postgres


def test_an_install_starts_with_the_default_campaign_open_to_every_labeler(any_db):
    (default,) = campaigns.list_campaigns()
    assert (default.name, default.open_to_all, default.labelers, default.archived_at) == ("default", True, 0, None)
    alice, _ = make_labeler("alice")
    assert campaigns.campaigns_of(alice) == [campaigns.Membership("default", 1.0)]
    assert guidelines.current("default", alice).version == 0
    with pytest.raises(campaigns.CampaignRefused, match="cannot be archived"):
        campaigns.archive("default")


def test_assigned_labelers_take_part_with_their_shares_and_only_they(any_db):
    alice, _ = make_labeler("alice")
    bob, _ = make_labeler("bob")
    made = campaigns.create("hands", "  Which hands look right?  ", open_to_all=False, by="root")
    assert (made.name, made.description, made.open_to_all, made.labelers) == ("hands", "Which hands look right?",
                                                                              False, 0)  # fmt: skip
    member = campaigns.assign("hands", alice, 0.25, by="root")
    assert (member.name, member.share, member.added_by) == ("alice", 0.25, "root")
    assert campaigns.assign("hands", alice, 0.5, by="root").share == 0.5  # a second assignment sets the share
    assert campaigns.campaigns_of(alice) == [campaigns.Membership("default", 1.0), campaigns.Membership("hands", 0.5)]
    assert campaigns.campaigns_of(bob) == [campaigns.Membership("default", 1.0)]
    assert [m.name for m in campaigns.members("hands")] == ["alice"] and campaigns.get("hands").labelers == 1

    # Each campaign has its own guidelines; versions are numbered across the install.
    guidelines.set_guidelines("Which image matches the prompt better?", "", "root")
    saved = guidelines.set_guidelines("Which hands look right?", "Count the **fingers**.", "root", "hands")
    assert saved.version == 2 and guidelines.current("hands", alice).question == "Which hands look right?"
    assert guidelines.current("default", alice).version == 1
    with pytest.raises(campaigns.NotInCampaign, match="not a labeler of campaign 'hands'"):
        guidelines.current("hands", bob)

    campaigns.unassign("hands", alice)
    assert campaigns.campaigns_of(alice) == [campaigns.Membership("default", 1.0)]
    with pytest.raises(campaigns.UnknownLabeler, match="not assigned"):
        campaigns.unassign("hands", alice)


def test_an_archived_campaign_keeps_its_data_and_takes_no_one(any_db):
    alice, _ = make_labeler("alice")
    campaigns.create("beauty", "", open_to_all=True, by="root")
    guidelines.set_guidelines("Which is more beautiful?", "", "root", "beauty")
    assert [m.name for m in campaigns.campaigns_of(alice)] == ["default", "beauty"]
    assert campaigns.archive("beauty").archived_at is not None
    assert campaigns.archive("beauty").archived_at is not None  # twice is fine
    assert [m.name for m in campaigns.campaigns_of(alice)] == ["default"]
    assert [c.name for c in campaigns.list_campaigns()] == ["default"]
    assert [c.name for c in campaigns.list_campaigns(archived=True)] == ["default", "beauty"]
    with pytest.raises(campaigns.NotInCampaign, match="archived"):
        guidelines.current("beauty", alice)
    assert guidelines.current("beauty").question == "Which is more beautiful?"  # an admin still reads it
    for refused in (lambda: campaigns.assign("beauty", alice, 1.0, "root"),
                    lambda: guidelines.set_guidelines("q", "", "root", "beauty")):  # fmt: skip
        with pytest.raises(campaigns.CampaignRefused, match="archived"):
            refused()
    with pytest.raises(campaigns.CampaignExists):
        campaigns.create("beauty", "", open_to_all=False, by="root")  # archived names stay taken


def test_bad_names_shares_and_unknown_things_are_refused(any_db):
    alice, _ = make_labeler("alice")
    for bad in ("", "Hands", "-x", "a b", "x" * 64, "hände"):
        with pytest.raises(campaigns.CampaignRefused, match="not a campaign name"):
            campaigns.create(bad, "", open_to_all=False, by="root")
    campaigns.create("hands", "", open_to_all=False, by="root")
    for share in (0, -0.5, 1.5):
        with pytest.raises(campaigns.CampaignRefused, match="share"):
            campaigns.assign("hands", alice, share, "root")
    with pytest.raises(campaigns.UnknownLabeler):
        campaigns.assign("hands", 999, 1.0, "root")
    unknowns = (lambda: campaigns.get("nope"), lambda: campaigns.archive("nope"), lambda: guidelines.current("nope"),
                lambda: campaigns.assign("nope", alice, 1.0, "root"))  # fmt: skip
    for unknown in unknowns:
        with pytest.raises(campaigns.UnknownCampaign, match="no campaign is named 'nope'"):
            unknown()


def test_the_commands_manage_campaigns(any_db):
    alice, _ = make_labeler("alice")
    runner = CliRunner()
    made = runner.invoke(cli, ["campaigns", "create", "hands", "--description", "Which hands look right?"])
    assert made.exit_code == 0, made.output
    assigned = runner.invoke(cli, ["campaigns", "assign", "hands", str(alice), "--share", "0.3"])
    assert assigned.exit_code == 0 and "alice in hands with share 0.3" in assigned.output
    listed = runner.invoke(cli, ["campaigns", "list"]).output
    assert "default" in listed and "open to all" in listed and "1 labeler " in listed
    assert "alice" in runner.invoke(cli, ["campaigns", "labelers", "hands"]).output
    edited = runner.invoke(cli, ["campaigns", "edit", "hands", "--open", "--description", "Hands."])
    assert edited.exit_code == 0 and "hands: open to all" in edited.output
    assert (campaigns.get("hands").open_to_all, campaigns.get("hands").description) == (True, "Hands.")
    assert runner.invoke(cli, ["campaigns", "edit", "hands", "--closed"]).exit_code == 0
    assert campaigns.get("hands").open_to_all is False
    again = runner.invoke(cli, ["campaigns", "create", "hands"])
    assert again.exit_code == 1 and "exists" in again.output
    assert runner.invoke(cli, ["campaigns", "archive", "default"]).exit_code == 1
    assert runner.invoke(cli, ["campaigns", "archive", "hands"]).exit_code == 0
    assert "hands" not in runner.invoke(cli, ["campaigns", "list"]).output


def test_a_campaigns_rounds_start_from_its_round_defaults(any_db, outbox):
    from core.db.models import TrainingRound
    from core.db.session import session_scope
    from core.services import rounds
    from core.settings import get_settings
    from core.states import RoundState, RoundTrigger

    settings = get_settings()
    campaigns.create("hands", "", True, "test")
    assert rounds.set_round_defaults(settings, "hands", {"beta": 1234, "steps": 30}) == {"beta": 1234, "steps": 30}
    assert campaigns.get("hands").round_defaults == {"beta": 1234, "steps": 30}

    def started(overrides: dict | None, campaign: str) -> dict:
        row = rounds.start_round(settings, RoundTrigger.admin, overrides, campaign=campaign)
        rounds.finish_round(row.id, RoundState.cancelled, "test: the config is what is checked")
        with session_scope() as session:
            return session.get(TrainingRound, row.id).config

    assert (started(None, "hands")["beta"], started(None, "hands")["steps"]) == (1234, 30)
    assert started({"beta": 99}, "hands")["beta"] == 99  # a round's own config wins
    assert started(None, "default")["beta"] == rounds.resolve_config(settings).beta  # default's untouched
    for bad, why in (({"beta": -1}, "beta"), ({"nope": 1}, "nope"), ({"start_from": 1}, "per round"),
                     ({"sources": ["votes", "import:absent"]}, "no preference set named 'absent'")):  # fmt: skip
        with pytest.raises(rounds.InvalidRoundConfig, match=why):
            rounds.set_round_defaults(settings, "hands", bad)
    assert campaigns.get("hands").round_defaults == {"beta": 1234, "steps": 30}  # unchanged by a refusal
    assert rounds.set_round_defaults(settings, "hands", {}) == {}

    result = CliRunner().invoke(cli, ["campaigns", "edit", "hands", "--round-defaults", '{"beta": 500}'])
    assert result.exit_code == 0 and "rounds start from {\"beta\": 500}" in result.output, result.output
    for bad in ("[1]", "{beta", '{"beta": "x"}'):
        refused = CliRunner().invoke(cli, ["campaigns", "edit", "hands", "--round-defaults", bad])
        assert refused.exit_code == 1 and "round" in refused.output, (bad, refused.output)
    assert campaigns.get("hands").round_defaults == {"beta": 500}
