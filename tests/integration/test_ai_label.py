"""`dpoloop ai-label`: an automatic judge votes through the real API as an AI labeler, and its votes
train a round only when the round says so."""

from sqlalchemy import select
from typer.testing import CliRunner

from app.cli.main import cli
from core.db.models import Labeler, Vote
from core.db.session import session_scope
from core.repo.comparisons import ready_pool_count
from core.repo.preferences import collect_preferences
from tests.helpers.stack import wait_until


def test_an_ai_labeler_votes_through_the_api_and_counts_only_when_asked(live_stack):
    def pool_has(n):
        with session_scope() as session:
            return ready_pool_count(session, 1) >= n

    wait_until(lambda: pool_has(4), 180, "four pairs in the pool", every=1, proc=live_stack["services"][1])
    result = CliRunner().invoke(cli, ["ai-label", "--judge", "scenes", "--votes", "4", "--url", live_stack["base_url"]])
    assert result.exit_code == 0, result.output
    assert "4 votes by scenes" in result.output
    with session_scope() as session:
        ai = session.scalars(select(Labeler).where(Labeler.name == "ai-scenes")).one()
        assert ai.is_ai and ai.role == "labeler"
        assert len(session.scalars(select(Vote).where(Vote.labeler_id == ai.id)).all()) == 4
        decisive = collect_preferences(session, ai_votes="only").counts["votes"]
        assert decisive == 4 and collect_preferences(session).counts["votes"] == 0  # left out by default
        assert collect_preferences(session, ai_votes="include").counts["votes"] == 4

    missing = CliRunner().invoke(cli, ["ai-label", "--judge", "pickscore:/nowhere", "--votes", "1"])
    assert missing.exit_code == 2 and "no weights directory at /nowhere" in missing.output
