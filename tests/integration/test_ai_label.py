"""`dpoloop ai-label`: an automatic judge votes through the real API as an AI labeler, and its votes
train a round only when the round says so."""

from sqlalchemy import select
from typer.testing import CliRunner

from cli.main import cli
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


def test_ai_label_never_signs_in_as_a_human_named_like_its_account(tmp_path, monkeypatch):
    """A person named `ai-scenes` (made before the prefix was kept for AI accounts) keeps their token,
    and the judge casts no vote as them: counted as a person's, its votes would train by default."""
    from core.repo.labelers import by_token
    from tests.conftest import apply_settings
    from tests.helpers.data import make_labeler

    apply_settings(monkeypatch, data_dir=tmp_path / "data")
    assert CliRunner().invoke(cli, ["migrate"]).exit_code == 0
    human, token = make_labeler("ai-scenes")
    refused = CliRunner().invoke(cli, ["ai-label", "--judge", "scenes", "--votes", "1", "--url", "http://127.0.0.1:9"])
    assert refused.exit_code == 2, refused.output
    assert "ai-scenes is a human labeler" in refused.output and "--name" in refused.output
    with session_scope() as session:
        assert by_token(session, token).id == human  # the person's token still works
        assert session.scalars(select(Labeler).where(Labeler.is_ai.is_(True))).all() == []
