"""A version of the preference model trained by the train worker's code on the install's votes, on SQLite
and Postgres: it learns what people voted for, writes its files and card, and a version that cannot train
fails on its own, leaving the last one in use."""

import json

import pytest

from core.db.models import RewardModel
from core.db.session import session_scope
from core.queue import sending_to
from core.services import reward
from core.settings import get_settings
from core.states import RewardModelState
from tests.conftest import apply_settings
from tests.helpers.reward import voted_square_pairs
from tests.services import conftest as services
from worker.checkpoint_io import CARD
from worker.reward.model import CONFIG, WEIGHTS, PreferenceModel
from worker.reward.run import train_version

sqlite_db, outbox = services.sqlite_db, services.outbox  # the fixtures, as the services' tests have them


@pytest.fixture(params=["sqlite", "postgres"])
def any_db(request, monkeypatch, embedded_model):
    request.getfixturevalue("sqlite_db" if request.param == "sqlite" else "pg_settings")
    apply_settings(monkeypatch, votes_per_comparison=10, base_model=embedded_model)
    get_settings().ensure_dirs()
    return get_settings()


def row_of(model_id: int) -> RewardModel:
    with session_scope() as session:
        row = session.get(RewardModel, model_id)
        session.expunge(row)
        return row


def test_a_version_learns_the_people_and_not_the_ai(any_db, outbox):
    voted_square_pairs(200, people=1, ai_against=True)
    model_id = reward.request_training(any_db, by="cli").id
    assert train_version(model_id, any_db) == "ready"
    row = row_of(model_id)
    assert row.state == RewardModelState.ready and row.path == f"reward/v{model_id:04d}"
    assert row.train_pairs + row.held_out_pairs == 200 and row.votes == 200
    assert row.held_out_accuracy >= 0.8, row.card  # people prefer the larger square; the AI says otherwise
    assert row.ceilings["labelers_agree"]["vote_pairs"] == 0  # one person a pair: no overlap to measure
    assert row.ceilings["judge"]["judge"] == "scenes" and row.ceilings["judge"]["pairs"] == row.held_out_pairs
    folder = any_db.data_dir / row.path
    card = json.loads((folder / CARD).read_text())
    assert card["held_out_accuracy"] == row.held_out_accuracy and card["snapshot_vote_id"] == row.snapshot_vote_id
    assert {WEIGHTS, CONFIG, CARD} <= {p.name for p in folder.iterdir()}
    assert PreferenceModel.load(folder).config["image_dim"] == card["fit"]["image_dim"]
    assert train_version(model_id, any_db) is None  # a redelivered task trains nothing twice


def test_a_version_without_enough_pairs_fails_and_the_last_stays(any_db, outbox):
    voted_square_pairs(30, people=1)
    first = reward.request_training(any_db, by="cli").id
    assert train_version(first, any_db) == "ready"
    for path in any_db.latents_dir.iterdir():  # every latents file lost
        path.unlink()
    second = reward.request_training(any_db, by="cli").id
    assert train_version(second, any_db) == "failed"
    assert "0 training pairs" in row_of(second).error
    assert reward.current().id == first


def test_the_cli_trains_a_version_here_and_shows_it(any_db):
    from typer.testing import CliRunner

    from cli.main import cli

    runner = CliRunner()
    sent = []
    with sending_to(lambda name, args: sent.append(name)):
        failed = runner.invoke(cli, ["reward", "train"])  # no votes yet: nothing to learn from
    assert sent == []  # trained here: no task raced it to the claim
    assert failed.exit_code == 1 and "failed" in failed.output and "0 training pairs" in failed.output
    voted_square_pairs(40, people=1)
    trained = runner.invoke(cli, ["reward", "train"])
    assert trained.exit_code == 0, trained.output
    assert "ready" in trained.output and "held-out accuracy" in trained.output
    shown = runner.invoke(cli, ["reward", "show"]).output.splitlines()
    assert shown[0].startswith("in use: v0002 ready") and len(shown) == 3
    # Another campaign's model: its own versions, trained on its own votes; a name no campaign has is refused.
    from core.services import campaigns

    hands = campaigns.create("hands", "", open_to_all=True, by="root").id
    voted_square_pairs(20, people=1, seed=4, campaign_id=hands, larger=False)
    theirs = runner.invoke(cli, ["reward", "train", "--campaign", "hands"])
    assert theirs.exit_code == 0 and "v0003 ready    votes     20" in theirs.output, theirs.output
    assert reward.versions(hands)[0].card["campaign_id"] == hands  # its folder says whose it is
    assert runner.invoke(cli, ["reward", "show", "--campaign", "hands"]).output.splitlines()[0].startswith(
        "in use: v0003 ready")  # fmt: skip
    assert runner.invoke(cli, ["reward", "show"]).output.splitlines()[0].startswith("in use: v0002 ready")
    for command in (["reward", "show", "--campaign", "nope"], ["reward", "train", "--campaign", "nope"]):
        refused = runner.invoke(cli, command)
        assert refused.exit_code == 1 and "no campaign is named 'nope'" in refused.output, refused.output
