"""A round with the source "reward" (in-process on the shipped model, SQLite): the start checkpoint renders
fresh pairs, the campaign's preference model labels them, the sure ones join the human pairs, and the
round's counts say how many were rendered and used. Refused before it starts without a preference model."""

import pytest

from core.db.models import Checkpoint
from core.db.session import session_scope
from core.queue import sending_to
from core.services import reward, rounds
from core.settings import get_settings
from core.states import CheckpointStatus, RoundState, RoundTrigger
from tests.conftest import apply_settings
from tests.helpers.reward import voted_square_pairs
from tests.helpers.rounds import QUICK, loop_db, round_row, start  # noqa: F401  (loop_db: the fixture)


def test_a_round_trains_on_pairs_the_preference_model_labelled(loop_db):  # noqa: F811
    from worker.reward.run import train_version
    from worker.rounds.run import run_round

    voted_square_pairs(40)
    with pytest.raises(rounds.InvalidRoundConfig, match="no preference model of this campaign has trained yet"):
        start(QUICK | {"sources": ["votes", "reward"], "reward_pairs": 8})
    with sending_to(lambda name, args: None):
        version = reward.request_training(get_settings(), by="test").id
    assert train_version(version, get_settings()) == "ready"

    round_id = start(QUICK | {"sources": ["votes", "reward"], "reward_pairs": 8, "reward_confidence": 0.55})
    run_round(round_id)
    row = round_row(round_id)
    assert row.state == RoundState.succeeded, row.error
    made = row.counts["reward_pairs"]
    assert made["version"] == version and made["asked"] == 8 and made["confidence"] == 0.55
    assert 1 <= made["used"] <= 8 and made["used"] <= made["rendered"] <= 32
    assert row.counts["train_pairs"] + row.counts["held_out_pairs"] == 40  # the human pairs, as before
    assert made["train_pairs_total"] == row.counts["train_pairs"] + made["used"]  # what the trainer was given
    # The gate asked the preference model too: the checkpoint against its parent on the evaluation prompts.
    with session_scope() as session:
        metrics = session.get(Checkpoint, row.checkpoint_id).metrics
    assert metrics["reward_version"] == version and len(metrics["reward_win_rate_by_pair"]) == 32
    assert metrics["gate"]["rules"]["reward"]["pairs"] == 32


def test_the_gate_fails_a_checkpoint_its_preference_model_finds_worse(loop_db, monkeypatch):  # noqa: F811
    from worker.reward.run import train_version
    from worker.rounds.run import run_round

    voted_square_pairs(40)
    with sending_to(lambda name, args: None):
        version = reward.request_training(get_settings(), by="test").id
    assert train_version(version, get_settings()) == "ready"
    # A limit it meets only by winning every pair, with intervals narrow enough that one loss shows.
    apply_settings(monkeypatch, gate_min_reward_win_rate=1.0, gate_confidence=0.5, reward_gate_images=8)
    round_id = start(QUICK)
    run_round(round_id)
    with session_scope() as session:
        checkpoint = session.get(Checkpoint, round_row(round_id).checkpoint_id)
        wins = checkpoint.metrics["reward_win_rate_by_pair"]
        assert len(wins) == 8
        assert min(wins) < 1.0  # it prefers the parent's image somewhere: below the limit of 1
        assert checkpoint.metrics["gate"]["checks"]["reward"] is False
        assert checkpoint.status == CheckpointStatus.rejected
        assert checkpoint.metrics["gate"]["reasons"][0].startswith(f"the preference model (v{version}) prefers it")


def test_reward_pairs_are_named_with_their_source(loop_db):  # noqa: F811
    for config, reason in (({"reward_pairs": 8}, 'needs "reward" among the sources'),
                           ({"sources": ["votes", "reward"]}, "reward_pairs says how many"),
                           ({"sources": ["reward"], "reward_pairs": 8}, '"reward" adds to human pairs')):  # fmt: skip
        with pytest.raises(rounds.InvalidRoundConfig, match=reason):
            rounds.start_round(get_settings(), RoundTrigger.admin, config)


def test_a_campaigns_round_takes_its_reward_pairs_and_gate_rule_from_its_own_model(loop_db, monkeypatch):  # noqa: F811
    """Two campaigns, two tastes: the round of "hands" (whose people prefer the smaller square) is labelled
    and gated by the model of hands' votes, not by default's newer one."""
    from core.services import campaigns, prompts
    from core.states import PromptSource
    from worker.reward.run import train_version
    from worker.rounds.run import run_round

    apply_settings(monkeypatch, reward_gate_images=4)  # the rule's pairs: few suffice to say whose model judged
    settings = get_settings()
    hands = campaigns.create("hands", "", open_to_all=True, by="root").id
    prompts.add_prompts(["a small red circle", "two blue squares"], PromptSource.admin, campaign="hands")
    prompts.add_prompts(["a green triangle"], PromptSource.admin, for_eval=True, campaign="hands")
    voted_square_pairs(40, seed=3, campaign_id=hands, larger=False)
    voted_square_pairs(16)  # default's people: the larger square
    config = QUICK | {"sources": ["votes", "reward"], "reward_pairs": 8, "reward_confidence": 0.55}
    with sending_to(lambda name, args: None):
        with pytest.raises(rounds.InvalidRoundConfig, match="no preference model of this campaign"):
            rounds.start_round(settings, RoundTrigger.admin, config, campaign="hands")
        ours = reward.request_training(settings, by="test", campaign="hands").id
        assert train_version(ours, settings) == "ready"
        default_version = reward.request_training(settings, by="test").id  # newer, of the other taste
        assert train_version(default_version, settings) == "ready"
    versions = {v.id: v for v in reward.versions(hands)}
    assert list(versions) == [ours] and versions[ours].train_pairs + versions[ours].held_out_pairs == 40

    round_id = start(config, campaign="hands")
    run_round(round_id)
    row = round_row(round_id)
    assert row.state == RoundState.succeeded, row.error
    assert row.counts["reward_pairs"]["version"] == ours and row.counts["reward_pairs"]["used"] >= 1
    assert row.counts["train_pairs"] + row.counts["held_out_pairs"] == 40  # hands' human pairs only
    with session_scope() as session:
        checkpoint = session.get(Checkpoint, row.checkpoint_id)
        assert checkpoint.campaign_id == hands and checkpoint.metrics["reward_version"] == ours
        assert len(checkpoint.metrics["reward_win_rate_by_pair"]) == 4
