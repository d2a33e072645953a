"""The install's preference model as a use case: ask for a version (an admin, the CLI or the schedule),
hand the train worker its votes, record what it measured. The model itself is worker/reward/.

Only people count: decisive votes of labelers in good standing on train pairs (AI labelers' votes, gold
pairs and evaluation pairs are left out), aggregated per pair as a round's are. A version that fails
is recorded with its error; the newest ready version stays the install's model.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError

from core.db.models import RewardModel, utcnow
from core.db.session import session_scope
from core.preferences import PreferencePair, is_held_out_pair
from core.queue import TRAIN_REWARD, QueueUnavailable, send
from core.repo import reward_models as repo
from core.repo.preferences import collect_preferences
from core.repo.prompts import active_prompts
from core.services import quality
from core.settings import Settings
from core.states import RewardModelState

log = logging.getLogger(__name__)
# A version trains in seconds to minutes (1,000 pairs: under 20 s on 2 cores); one in flight this long
# lost its worker.
STALE_AFTER = timedelta(hours=1)


class RewardBusy(RuntimeError):
    """A version is already queued or training."""


@dataclass
class RewardJob:
    """What the train worker needs for one version: its votes as pairs, split once and stably."""

    model_id: int
    snapshot_vote_id: int
    train: list[PreferencePair] = field(default_factory=list)
    held_out: list[PreferencePair] = field(default_factory=list)
    counts: dict = field(default_factory=dict)
    agreement: dict = field(default_factory=dict)
    held_out_images: dict[str, str] = field(default_factory=dict)  # latents file → image file


def request_training(settings: Settings, by: str, features: str = "latents+text", queue: bool = True) -> RewardModel:
    """A new version, queued on the train worker (queue=False: the caller trains it here, `dpoloop reward
    train`). RewardBusy while one is queued or training (the slot column makes that hold under concurrent
    requests too); QueueUnavailable (the version is then marked failed)."""
    try:
        with session_scope() as session:
            busy = repo.in_flight(session)
            if busy is not None:
                raise RewardBusy(f"preference model version {busy.id} is already {busy.state.value}")
            row = RewardModel(state=RewardModelState.queued, features=features, requested_by=by, ceilings={},
                              card={}, slot=1)  # fmt: skip
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


def check_schedule(settings: Settings) -> RewardModel | None:
    """Beat: a new version once enough new decisive votes of people arrived since the last one that
    trained or failed (a failure is not retried until more votes came), after failing versions that no
    worker finished in time (a worker that died mid-training leaves its version in flight)."""
    if settings.reward_retrain_votes <= 0:
        return None
    fail_stale()
    with session_scope() as session:
        if repo.in_flight(session) is not None:
            return None
        since = repo.last_snapshot(session)
        if repo.decisive_votes_since(session, since) < settings.reward_retrain_votes:
            return None
    try:
        return request_training(settings, by="schedule")
    except (RewardBusy, QueueUnavailable) as exc:  # another request won, or the broker is away: next time
        log.info("preference model not scheduled: %s", exc)
        return None


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
        preferences = collect_preferences(session, row.snapshot_vote_id, "exclude", excluded)
        job = RewardJob(model_id, row.snapshot_vote_id, counts=dict(preferences.counts))
        for pair in preferences.pairs:
            held = is_held_out_pair(pair.comparison_id, settings.reward_held_out_share, "reward")
            (job.held_out if held else job.train).append(pair)
        job.agreement = repo.labeler_agreement(session, row.snapshot_vote_id, excluded)
        paths = [p for pair in job.held_out for p in (pair.winner_latents, pair.loser_latents)]
        for start in range(0, len(paths), 500):
            job.held_out_images.update(repo.images_of(session, paths[start : start + 500]))
    return job


def finish(model_id: int, path: str, result: dict) -> None:
    """Record a trained version: from now on it is the install's preference model."""
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


def check_source(settings: Settings) -> None:
    """ValueError when a round cannot take reward pairs: no preference model has trained yet, or the
    round would train in several processes (reward pairs are rendered and labelled in the round's own)."""
    if current() is None:
        raise ValueError("sources: no preference model has trained yet (train one: POST /admin/reward/train)")
    if settings.train_processes > 1:
        raise ValueError("sources: reward pairs need DPOLOOP_TRAIN_PROCESSES=1 (they are made in the round's process)")


def round_prompts() -> list[str]:
    """The prompts reward pairs are drawn for: the pool's (active, not evaluation prompts)."""
    with session_scope() as session:
        return [p.text for p in active_prompts(session)]


def current() -> RewardModel | None:
    with session_scope() as session:
        return repo.newest_ready(session)


def versions() -> list[RewardModel]:
    with session_scope() as session:
        return repo.versions(session)
