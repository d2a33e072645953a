"""Each campaign's preference model as a use case: ask for a version (an admin, the CLI or the schedule),
hand the train worker its votes, record what it measured. The model itself is worker/reward/.

A campaign's model learns its own labelers' taste: the campaigns of one install may ask different
questions, so one model over all their votes would learn a mix that is nobody's. Only people count:
decisive votes of labelers in good standing on the campaign's train pairs (AI labelers' votes, gold pairs
and evaluation pairs are left out), aggregated per pair as a round's are. A version that fails is recorded
with its error; the campaign's newest ready version stays its model.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError

from core.db.models import DEFAULT_CAMPAIGN_ID, RewardModel, utcnow
from core.db.session import session_scope
from core.preferences import PreferencePair, is_held_out_pair
from core.queue import TRAIN_REWARD, QueueUnavailable, send
from core.repo import reward_models as repo
from core.repo.preferences import collect_preferences
from core.repo.prompts import active_prompts
from core.services import campaigns, quality
from core.settings import Settings
from core.states import RewardModelState

log = logging.getLogger(__name__)
# A version trains in seconds to minutes (1,000 pairs: under 20 s on 2 cores); one in flight this long
# lost its worker.
STALE_AFTER = timedelta(hours=1)


class RewardBusy(RuntimeError):
    """A version of the campaign's model is already queued or training."""


@dataclass
class RewardJob:
    """What the train worker needs for one version: its votes as pairs, split once and stably."""

    model_id: int
    snapshot_vote_id: int
    campaign_id: int
    train: list[PreferencePair] = field(default_factory=list)
    held_out: list[PreferencePair] = field(default_factory=list)
    counts: dict = field(default_factory=dict)
    agreement: dict = field(default_factory=dict)
    held_out_images: dict[str, str] = field(default_factory=dict)  # latents file → image file


def request_training(settings: Settings, by: str, features: str = "latents+text", queue: bool = True,
                     campaign: str = campaigns.DEFAULT) -> RewardModel:  # fmt: skip
    """A new version of the campaign's model, queued on the train worker (queue=False: the caller trains it
    here, `dpoloop reward train`). UnknownCampaign, CampaignRefused (archived); RewardBusy while one of the
    campaign's is queued or training (the slot column makes that hold under concurrent requests too);
    QueueUnavailable (the version is then marked failed)."""
    try:
        with session_scope() as session:
            campaign_id = campaigns.by_name(session, campaign, active=True).id
            busy = repo.in_flight(session, campaign_id)
            if busy is not None:
                raise RewardBusy(f"preference model version {busy.id} is already {busy.state.value} "
                                 f"in campaign {campaign!r}")  # fmt: skip
            row = RewardModel(state=RewardModelState.queued, features=features, requested_by=by, ceilings={},
                              card={}, slot=1, campaign_id=campaign_id)  # fmt: skip
            session.add(row)
            session.flush()
    except IntegrityError as exc:  # another request took the slot between the check and the insert
        raise RewardBusy("another preference model version was requested at the same moment") from exc
    if queue:
        try:
            send(TRAIN_REWARD, row.id)  # after the commit: the worker finds the row
        except QueueUnavailable as exc:
            fail(row.id, f"could not queue the training: {exc}")
            raise
    return row


def check_schedule(settings: Settings) -> list[RewardModel]:
    """Beat: a new version of each active campaign's model once enough new decisive votes of its people
    arrived since its last one that trained or failed (a failure is not retried until more votes came),
    after failing versions that no worker finished in time (a worker that died mid-training leaves its
    version in flight). The versions queued."""
    if settings.reward_retrain_votes <= 0:
        return []
    fail_stale()
    due = []
    with session_scope() as session:
        for campaign in campaigns.active_campaigns(session):
            if repo.in_flight(session, campaign.id) is not None:
                continue
            since = repo.last_snapshot(session, campaign.id)
            if repo.decisive_votes_since(session, since, campaign.id) >= settings.reward_retrain_votes:
                due.append(campaign.name)
    queued = []
    for name in due:
        try:
            queued.append(request_training(settings, by="schedule", campaign=name))
        except (RewardBusy, QueueUnavailable, campaigns.CampaignRefused) as exc:  # next time
            log.info("preference model of %r not scheduled: %s", name, exc)
    return queued


def fail_stale(now: datetime | None = None) -> list[int]:
    """Fail versions queued or training for longer than STALE_AFTER: their worker is gone (a redelivered
    task finds the version claimed and leaves it), and an in-flight version blocks every later one."""
    now = now or utcnow()
    with session_scope() as session:
        stale = repo.in_flight_since(session, now - STALE_AFTER)
        for row in stale:
            since = row.started_at or row.created_at
            row.error = (f"no worker finished it within {STALE_AFTER} "
                         f"({row.state.value} since {since:%Y-%m-%d %H:%M} UTC)")  # fmt: skip
            row.state, row.slot, row.finished_at = RewardModelState.failed, None, now
        return [row.id for row in stale]


def claim(model_id: int, settings: Settings) -> RewardJob | None:
    """Mark the version training and snapshot its votes; None when it is not queued (a redelivered task)."""
    excluded = frozenset(quality.excluded_labelers(settings))
    with session_scope() as session:
        row = session.get(RewardModel, model_id, with_for_update=True)
        if row is None or row.state != RewardModelState.queued:
            return None
        row.state, row.started_at = RewardModelState.training, utcnow()
        row.snapshot_vote_id = repo.newest_vote_id(session)
        preferences = collect_preferences(session, row.snapshot_vote_id, "exclude", excluded, row.campaign_id)
        job = RewardJob(model_id, row.snapshot_vote_id, row.campaign_id, counts=dict(preferences.counts))
        for pair in preferences.pairs:
            held = is_held_out_pair(pair.comparison_id, settings.reward_held_out_share, "reward")
            (job.held_out if held else job.train).append(pair)
        job.agreement = repo.labeler_agreement(session, row.snapshot_vote_id, excluded, row.campaign_id)
        paths = [p for pair in job.held_out for p in (pair.winner_latents, pair.loser_latents)]
        for start in range(0, len(paths), 500):
            job.held_out_images.update(repo.images_of(session, paths[start : start + 500]))
    return job


def finish(model_id: int, path: str, result: dict) -> None:
    """Record a trained version: from now on it is its campaign's preference model."""
    with session_scope() as session:
        row = session.get(RewardModel, model_id)
        row.state, row.path, row.finished_at, row.slot = RewardModelState.ready, path, utcnow(), None
        row.votes, row.train_pairs = result["votes"], result["train_pairs"]
        row.held_out_pairs = result["held_out_pairs"]
        row.held_out_accuracy, row.ceilings, row.card = result["held_out_accuracy"], result["ceilings"], result["card"]


def fail(model_id: int, error: str) -> None:
    with session_scope() as session:
        row = session.get(RewardModel, model_id)
        if row is not None:
            row.state, row.error, row.finished_at, row.slot = RewardModelState.failed, error[:4000], utcnow(), None


def check_source(settings: Settings, campaign_id: int = DEFAULT_CAMPAIGN_ID) -> None:
    """ValueError when a round of the campaign cannot take reward pairs: no preference model of the campaign
    has trained yet, or the round would train in several processes (reward pairs are rendered and labelled
    in the round's own)."""
    if current(campaign_id) is None:
        raise ValueError("sources: no preference model of this campaign has trained yet "
                         "(train one: POST /admin/reward/train)")  # fmt: skip
    if settings.train_processes > 1:
        raise ValueError("sources: reward pairs need DPOLOOP_TRAIN_PROCESSES=1 (they are made in the round's process)")


def round_prompts(campaign_id: int = DEFAULT_CAMPAIGN_ID) -> list[str]:
    """The prompts a campaign's reward pairs are drawn for: its pool's (active, not evaluation prompts)."""
    with session_scope() as session:
        return [p.text for p in active_prompts(session, campaign_id=campaign_id)]


def current(campaign_id: int = DEFAULT_CAMPAIGN_ID) -> RewardModel | None:
    """The campaign's preference model: its newest ready version."""
    with session_scope() as session:
        return repo.newest_ready(session, campaign_id)


def versions(campaign_id: int = DEFAULT_CAMPAIGN_ID) -> list[RewardModel]:
    """The campaign's versions, newest first."""
    with session_scope() as session:
        return repo.versions(session, campaign_id)


def overview(campaign: str = campaigns.DEFAULT) -> tuple[RewardModel | None, list[RewardModel]]:
    """The named campaign's model in use and its versions; UnknownCampaign (an archived one's are kept)."""
    with session_scope() as session:
        campaign_id = campaigns.by_name(session, campaign).id
        return repo.newest_ready(session, campaign_id), repo.versions(session, campaign_id)
