"""The preference model's versions as a use case, on SQLite and Postgres: asked for once at a time per
campaign, sent after its commit, scheduled by people's new decisive votes only, trained on people's votes of
its own campaign only; a failed version never replaces the campaign's model."""

import numpy as np
import pytest

from core.db.models import RewardModel
from core.db.session import session_scope
from core.queue import TRAIN_REWARD, QueueUnavailable, sending_to
from core.services import reward
from core.settings import get_settings
from core.states import RewardModelState
from tests.conftest import apply_settings
from tests.helpers.reward import voted_square_pairs
from tests.services.conftest import Outbox


@pytest.fixture(params=["sqlite", "postgres"])
def any_db(request, monkeypatch):
    request.getfixturevalue("sqlite_db" if request.param == "sqlite" else "pg_settings")
    apply_settings(monkeypatch, votes_per_comparison=10, reward_retrain_votes=30)
    get_settings().ensure_dirs()
    return get_settings()


def state_of(model_id: int) -> RewardModelState | None:
    with session_scope() as session:
        row = session.get(RewardModel, model_id)
        return row.state if row else None


def test_a_version_is_queued_after_its_commit_and_one_at_a_time(any_db):
    box = Outbox(visible=lambda name, args: state_of(args[0]) == RewardModelState.queued)
    with sending_to(box):
        row = reward.request_training(any_db, by="admin")
        with pytest.raises(reward.RewardBusy, match=f"version {row.id} is already queued"):
            reward.request_training(any_db, by="admin")
    assert box.sent == [(TRAIN_REWARD, [row.id])] and box.seen == [True]


def test_a_version_the_broker_cannot_take_is_recorded_failed(any_db, broker_down):
    with pytest.raises(QueueUnavailable):
        reward.request_training(any_db, by="cli")
    with session_scope() as session:
        (row,) = session.query(RewardModel).all()
        assert row.state == RewardModelState.failed and "could not queue" in row.error


def test_the_schedule_counts_new_decisive_votes_of_people_only(any_db):
    box = Outbox()
    with sending_to(box):
        voted_square_pairs(20, people=1, ai_against=True)  # 20 people's votes (+20 AI votes, not counted)
        assert reward.check_schedule(any_db) == []
        voted_square_pairs(12, people=1, seed=1)  # 32 ≥ 30
        (first,) = reward.check_schedule(any_db)
        assert first.requested_by == "schedule"
        assert reward.check_schedule(any_db) == []  # one in flight
    assert box.sent == [(TRAIN_REWARD, [first.id])]


def test_a_claim_snapshots_people_in_good_standing_and_their_agreement(any_db, outbox):
    voted_square_pairs(40, people=2, ai_against=True)
    row = reward.request_training(any_db, by="admin")
    job = reward.claim(row.id, any_db)
    assert reward.claim(row.id, any_db) is None  # a redelivered task finds it taken
    assert state_of(row.id) == RewardModelState.training
    assert len(job.train) + len(job.held_out) == 40 and job.held_out  # the AI's contrary votes made no split
    assert job.counts["votes"] == 80  # two people's votes on each pair; the AI's left out
    assert job.agreement == {"comparisons": 40, "vote_pairs": 40, "rate": 1.0}
    assert set(job.held_out_images) == {p for pair in job.held_out for p in (pair.winner_latents, pair.loser_latents)}


def test_a_failed_version_leaves_the_last_ready_one_in_use(any_db, outbox):
    first = reward.request_training(any_db, by="admin")
    reward.claim(first.id, any_db)
    reward.finish(first.id, "reward/v0001", {"votes": 10, "train_pairs": 8, "held_out_pairs": 2,
                                              "held_out_accuracy": 0.5, "ceilings": {}, "card": {}})  # fmt: skip
    second = reward.request_training(any_db, by="admin")
    reward.claim(second.id, any_db)
    reward.fail(second.id, "RuntimeError: out of memory")
    assert reward.current().id == first.id
    assert [v.state for v in reward.versions()] == [RewardModelState.failed, RewardModelState.ready]
    assert np.isclose(reward.current().held_out_accuracy, 0.5)


def test_the_pool_asks_the_preference_model_only_once_one_has_trained(any_db, monkeypatch, outbox):
    from core.services import pool
    from core.services.prompts import seed_shipped_prompts

    seed_shipped_prompts()
    apply_settings(monkeypatch, pairing="reward", pairing_random_share=0, pool_target=50, pool_batch=4)
    assert {p.pairing for p in pool.plan_batch(get_settings()).comparisons} == {"diverse"}  # no preference model yet
    first = reward.request_training(get_settings(), by="admin")
    reward.claim(first.id, get_settings())
    reward.finish(first.id, "reward/v0001", {"votes": 10, "train_pairs": 8, "held_out_pairs": 2,
                                              "held_out_accuracy": 0.7, "ceilings": {}, "card": {}})  # fmt: skip
    assert {p.pairing for p in pool.plan_batch(get_settings()).comparisons} == {"reward"}
    apply_settings(monkeypatch, pairing_random_share=1)
    assert {p.pairing for p in pool.plan_batch(get_settings()).comparisons} == {"random"}


def test_two_requests_at_once_queue_one_version(any_db, outbox):
    import threading

    barrier, outcomes = threading.Barrier(2), []

    def ask() -> None:
        barrier.wait()
        try:
            outcomes.append(reward.request_training(any_db, by="admin").id)
        except reward.RewardBusy:
            outcomes.append("busy")

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes, key=str).count("busy") == 1
    with session_scope() as session:
        assert session.query(RewardModel).count() == 1


def test_a_version_whose_worker_died_is_failed_and_the_schedule_goes_on(any_db, outbox):
    from datetime import timedelta

    from core.db.models import utcnow

    row = reward.request_training(any_db, by="admin")
    reward.claim(row.id, any_db)  # the worker took it, then died
    assert reward.fail_stale() == []  # not yet
    assert reward.fail_stale(now=utcnow() + reward.STALE_AFTER + timedelta(minutes=1)) == [row.id]
    assert state_of(row.id) == RewardModelState.failed
    voted_square_pairs(30, people=1)
    assert len(reward.check_schedule(any_db)) == 1  # the slot is free again


def test_a_failed_version_is_not_retried_until_more_votes_arrive(any_db, outbox):
    voted_square_pairs(32, people=1)
    (first,) = reward.check_schedule(any_db)
    reward.claim(first.id, any_db)
    reward.fail(first.id, "ValueError: the text encoder is missing")
    assert reward.check_schedule(any_db) == []  # the same votes would fail the same way
    voted_square_pairs(30, people=1, seed=1)
    assert len(reward.check_schedule(any_db)) == 1



def test_each_campaign_learns_its_own_labelers(any_db, monkeypatch):
    """Two campaigns, two tastes: each model version sees only its campaign's votes, each campaign has one
    version in flight at a time, beat schedules each on its own new votes, and each pool asks its own model."""
    from core.services import campaigns, pool, prompts
    from core.states import PromptSource

    box = Outbox()
    hands = campaigns.create("hands", "", open_to_all=True, by="root").id
    ours = voted_square_pairs(32, people=1)  # default: the larger square
    theirs = voted_square_pairs(32, people=2, seed=5, campaign_id=hands, larger=False)  # two people a pair
    with sending_to(box):
        queued = reward.check_schedule(any_db)
        assert sorted(row.campaign_id for row in queued) == [1, hands]
        with pytest.raises(reward.RewardBusy, match="is already queued in campaign 'hands'"):
            reward.request_training(any_db, by="admin", campaign="hands")
        assert reward.check_schedule(any_db) == []  # both in flight
    by_campaign = {row.campaign_id: row.id for row in queued}
    default_job, hands_job = (reward.claim(by_campaign[c], any_db) for c in (1, hands))
    assert {p.comparison_id for p in default_job.train + default_job.held_out} == set(ours)
    assert {p.comparison_id for p in hands_job.train + hands_job.held_out} == set(theirs)
    assert (default_job.campaign_id, hands_job.campaign_id) == (1, hands)
    assert (default_job.agreement["comparisons"], hands_job.agreement["comparisons"]) == (0, 32)  # each its own

    assert reward.current(hands) is None
    apply_settings(monkeypatch, pairing="reward", pairing_random_share=0, pool_target=50, pool_batch=4)
    prompts.add_prompts(["two hands"], PromptSource.admin, campaign="hands")
    batch = pool.plan_batch(get_settings())  # hands' pool lacks most: it is empty
    assert (batch.campaign_id, {p.pairing for p in batch.comparisons}) == (hands, {"diverse"})
    trained = {"votes": 32, "train_pairs": 26, "held_out_pairs": 6, "held_out_accuracy": 0.8, "ceilings": {},
               "card": {}}
    reward.finish(by_campaign[hands], "reward/hands", trained)
    assert reward.current(hands).id == by_campaign[hands]
    assert reward.current() is None  # default's version is still training
    batch = pool.plan_batch(get_settings())
    assert (batch.campaign_id, {p.pairing for p in batch.comparisons}) == (hands, {"reward"})  # its own model
    current, versions = reward.overview("hands")
    assert current.id == by_campaign[hands] and [v.id for v in versions] == [by_campaign[hands]]
    with pytest.raises(campaigns.UnknownCampaign):
        reward.overview("nope")
    campaigns.archive("hands")
    with pytest.raises(campaigns.CampaignRefused, match="archived"):
        reward.request_training(any_db, by="admin", campaign="hands")
