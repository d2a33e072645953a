"""Training rounds: start (by an admin or the schedule), cancel, follow; and, for the train worker,
claim one, record its progress and end it.

One round at a time is a database fact: a queued or running round holds a unique slot
(core/repo/rounds.py), so a second start fails in the database whichever process tries.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from core.db.models import DEFAULT_CAMPAIGN_ID, Checkpoint, RoundStep, TrainingRound, Vote
from core.db.session import session_scope
from core.family import UnsupportedModel, model_family
from core.preferences import Preferences
from core.queue import TRAIN_ROUND, QueueUnavailable, send
from core.refs import CheckpointRef
from core.repo import rounds as repo
from core.repo.checkpoints import NewCheckpoint, UnusableCheckpoint, active_checkpoint_id, checkpoint_ref, promote
from core.repo.checkpoints import register as register_checkpoint
from core.repo.preferences import add_imported, collect_preferences
from core.schemas.rounds import DPOConfig, round_config
from core.services import campaigns, candidates, imports, quality, reward
from core.settings import Settings
from core.states import BASE_CHECKPOINT_ID, ROUND_ACTIVE, ROUND_FINISHED, Promotion, RoundState, RoundTrigger
from core.training_memory import memory_refusal

MAX_ATTEMPTS = 2  # a round whose worker died is retried once, then fails


class RoundBusy(RuntimeError):
    """Another round is queued or running."""


class InvalidRoundConfig(ValueError):
    """The round's DPO settings do not validate (the message lists each problem)."""


class RoundEnded(ValueError):
    """The round already ended: nothing to cancel."""


def resolve_config(settings: Settings, overrides: dict | None = None) -> DPOConfig:
    """The model family's defaults, then DPOLOOP_DPO_OVERRIDES, then overrides; InvalidRoundConfig if invalid."""
    try:
        family = model_family(settings.base_model)
        config = round_config(family, settings.dpo_overrides, overrides or {})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise InvalidRoundConfig(f"invalid round config: {problems}") from exc
    except (UnsupportedModel, TypeError) as exc:
        raise InvalidRoundConfig(f"invalid round config: {exc}") from exc
    global_batch = config.batch_pairs * config.grad_accumulation
    if global_batch < settings.train_processes:
        raise InvalidRoundConfig(
            f"invalid round config: a global batch of {global_batch} pairs (batch_pairs × grad_accumulation) "
            f"cannot feed {settings.train_processes} training processes"
        )
    refusal = memory_refusal(Path(settings.base_model), family, config, settings.train_memory_gb)
    if refusal:
        raise InvalidRoundConfig(f"invalid round config: {refusal}")
    return config


def _add_round(trigger: RoundTrigger, config: dict, requested_by: str | None,
               campaign_id: int = DEFAULT_CAMPAIGN_ID) -> TrainingRound:  # fmt: skip
    try:
        with session_scope() as session:
            return repo.add_round(session, trigger, config, requested_by, campaign_id)
    except IntegrityError as exc:
        with session_scope() as session:
            busy = repo.running_round(session)
        raise RoundBusy(f"round {busy.id if busy else '?'} is already {busy.state if busy else 'active'}") from exc


def start_round(
    settings: Settings, trigger: RoundTrigger, overrides: dict | None = None, requested_by: str | None = None,
    campaign: str = campaigns.DEFAULT,
) -> TrainingRound:
    """Validate the config, take the slot, then queue the task: a round of the campaign, on its votes, from
    what serves it. UnknownCampaign, CampaignRefused (archived), InvalidRoundConfig, RoundBusy, or
    QueueUnavailable (then the round is failed, so it never holds the slot)."""
    with session_scope() as session:
        found = campaigns.by_name(session, campaign, active=True)
        campaign_id, defaults = found.id, dict(found.round_defaults or {})
    config = resolve_config(settings, defaults | (overrides or {}))
    try:
        imports.check_sources(config.sources, campaign_id)
        if "reward" in config.sources:
            reward.check_source(settings, campaign_id)
        if config.start_from is not None:
            _check_start(config.start_from, campaign_id)
    except ValueError as exc:
        raise InvalidRoundConfig(f"invalid round config: {exc}") from exc
    row = _add_round(trigger, config.model_dump(), requested_by, campaign_id)
    try:
        send(TRAIN_ROUND, row.id)
    except QueueUnavailable as exc:
        finish_round(row.id, RoundState.failed, f"could not queue the task: {exc}")
        raise
    return row


def _check_start(checkpoint_id: int, campaign_id: int) -> None:
    with session_scope() as session:
        try:
            checkpoint_ref(session, checkpoint_id)
        except (LookupError, UnusableCheckpoint) as exc:
            raise ValueError(f"start_from: {exc}") from exc
        if checkpoint_id != BASE_CHECKPOINT_ID and session.get(Checkpoint, checkpoint_id).campaign_id != campaign_id:
            raise ValueError(f"start_from: checkpoint {checkpoint_id} belongs to another campaign's lineage")


def list_rounds(limit: int = 50, campaign: str | None = None) -> list[TrainingRound]:
    """The newest rounds (of one campaign: UnknownCampaign if none has that name)."""
    with session_scope() as session:
        campaign_id = campaigns.by_name(session, campaign).id if campaign else None
        return repo.list_rounds(session, limit, campaign_id)


def get_round(round_id: int, after_step: int = 0) -> tuple[TrainingRound, list[RoundStep]]:
    """A round with its per-step metrics after `after_step`; LookupError if there is none."""
    with session_scope() as session:
        row = session.get(TrainingRound, round_id)
        if row is None:
            raise LookupError(f"round {round_id} does not exist")
        return row, repo.steps_of(session, round_id, after_step)


def cancel_round(round_id: int) -> TrainingRound:
    """A queued round ends now; a running one stops at its next step. LookupError, or RoundEnded."""
    with session_scope() as session:
        row = session.get(TrainingRound, round_id)
        if row is None:
            raise LookupError(f"round {round_id} does not exist")
        if row.state not in ROUND_ACTIVE:
            raise RoundEnded(f"round {round_id} already ended ({row.state.value})")
        repo.request_cancel(session, row)
        return row


def set_round_defaults(settings: Settings, campaign: str, defaults: dict) -> dict:
    """The DPO settings the campaign's rounds start from (over the install's; a round's config wins);
    InvalidRoundConfig for settings no round could run with, or a start_from (it names one checkpoint:
    a round's own choice). UnknownCampaign, CampaignRefused (archived)."""
    if "start_from" in defaults:
        raise InvalidRoundConfig("invalid round defaults: start_from names one checkpoint; give it per round")
    resolve_config(settings, defaults)
    with session_scope() as session:
        found = campaigns.by_name(session, campaign, active=True)
        sources = defaults.get("sources", [])
        try:
            imports.check_sources(sources, found.id)
        except ValueError as exc:
            raise InvalidRoundConfig(f"invalid round defaults: {exc}") from exc
        found.round_defaults = dict(defaults)
        return dict(found.round_defaults)


# ---- the schedule (beat, on the generate queue) ----------------------------------------------------
def fail_stale_rounds(settings: Settings) -> list[int]:
    """Running rounds whose worker went silent become failed, freeing the slot."""
    with session_scope() as session:
        return repo.fail_stale_rounds(session, settings.round_stale_s)


def scheduled_round_due(settings: Settings) -> tuple[int, str] | None:
    """(id, name) of the campaign whose round is due, if any: no round active, and for that campaign the
    minimum interval passed since its last scheduled round and enough new decisive pairs wait (the one
    with most, when several are due: one round at a time)."""
    with session_scope() as session:
        if repo.running_round(session) is not None:
            return None
        due = []
        for campaign in campaigns.active_campaigns(session):
            last = repo.last_scheduled_start(session, campaign.id)
            if last is not None and datetime.now(UTC) - last < timedelta(seconds=settings.round_min_interval_s):
                continue
            waiting = repo.new_decisive_comparisons(session, campaign.id)
            if waiting >= settings.round_min_pairs:
                due.append((-waiting, campaign.id, campaign.name))
        return min(due)[1:] if due else None


def start_scheduled_round(settings: Settings) -> int | None:
    """Start a round of the campaign whose round is due; an invalid DPOLOOP_DPO_OVERRIDES is recorded as a
    failed round, so the admin sees why rounds do not train. Returns the round id, or None."""
    due = scheduled_round_due(settings) if settings.round_schedule else None
    if due is None:
        return None
    campaign_id, name = due
    try:
        return start_round(settings, RoundTrigger.schedule, campaign=name).id
    except InvalidRoundConfig as exc:
        try:
            row = _add_round(RoundTrigger.schedule, {}, None, campaign_id)
        except RoundBusy:
            return None
        finish_round(row.id, RoundState.failed, f"invalid DPOLOOP_DPO_OVERRIDES: {exc}")
        return None
    except (RoundBusy, QueueUnavailable, campaigns.UnknownCampaign, campaigns.CampaignRefused):
        return None  # busy, unreachable, or archived since: the next beat looks again


# ---- the train worker ---------------------------------------------------------------------------
@dataclass(frozen=True)
class RoundClaim:
    """What a claimed round trains: its settings, the votes up to its snapshot, from where, against
    what; and the token under which this claim alone may report on it and end it."""

    round_id: int
    token: str
    config: DPOConfig
    snapshot_vote_id: int
    start: CheckpointRef
    reference: CheckpointRef
    campaign_id: int = DEFAULT_CAMPAIGN_ID  # whose votes it trains on, and whose lineage it extends


class RoundLost(RuntimeError):
    """The claim no longer holds the round: declared lost (silent too long) or taken over."""


def claim_round(round_id: int, settings: Settings) -> RoundClaim | None:
    """Mark the round running under a new claim and fix what it trains on (kept across a redelivery);
    None when there is nothing to do: gone, finished, running under a live claim (a redelivered task
    must not run it twice), or ended here with the reason (cancelled, out of attempts, unusable)."""
    with session_scope() as session:
        row = session.get(TrainingRound, round_id)
        if row is None or row.state in ROUND_FINISHED:
            return None  # gone, cancelled while queued, or a redelivery of a finished round
        pulse = row.heartbeat_at or row.started_at or row.created_at
        if row.state == RoundState.running and datetime.now(UTC) - pulse < timedelta(seconds=settings.round_stale_s):
            return None  # another worker is on it and alive
        if row.cancel_requested:
            repo.finish_round(session, row, RoundState.cancelled, "cancelled before it started")
            return None
        if row.attempts >= MAX_ATTEMPTS:
            repo.finish_round(session, row, RoundState.failed, f"gave up after {row.attempts} attempts (workers lost)")
            return None
        now = datetime.now(UTC)
        row.state, row.attempts, row.started_at, row.heartbeat_at = RoundState.running, row.attempts + 1, now, now
        row.claim_token = secrets.token_hex(16)
        if row.snapshot_vote_id is None:
            row.snapshot_vote_id = session.scalar(select(func.max(Vote.id))) or 0
        # What serves the campaign (a rebuild starts elsewhere).
        active = (row.config or {}).get("start_from") or active_checkpoint_id(session, row.campaign_id)
        if row.start_checkpoint_id is None:
            row.start_checkpoint_id = active if settings.round_start_from == "active" else BASE_CHECKPOINT_ID
        if row.reference_checkpoint_id is None:
            row.reference_checkpoint_id = active if settings.round_reference == "active" else BASE_CHECKPOINT_ID
        try:
            start = checkpoint_ref(session, row.start_checkpoint_id)
            reference = checkpoint_ref(session, row.reference_checkpoint_id)
            config = DPOConfig(**row.config)
        except (UnusableCheckpoint, ValidationError) as exc:
            repo.finish_round(session, row, RoundState.failed, str(exc))
            return None
        return RoundClaim(round_id, row.claim_token, config, row.snapshot_vote_id, start, reference, row.campaign_id)


def preferences_of(claim: RoundClaim, settings: Settings) -> Preferences:
    """The round's sources as preference pairs: its campaign's votes of its snapshot, aggregated (only those
    of labelers in good standing), and the imported sets it names."""
    sources = claim.config.sources
    excluded = frozenset(quality.excluded_labelers(settings)) if "votes" in sources else frozenset()
    with session_scope() as session:
        found = (collect_preferences(session, claim.snapshot_vote_id, claim.config.ai_votes, excluded,
                                     claim.campaign_id) if "votes" in sources else Preferences())  # fmt: skip
        for source in sources:
            if source.startswith(imports.IMPORT_PREFIX):
                add_imported(session, found, source)
    return found


def beat(claim: RoundClaim) -> None:
    """The round's heartbeat, in every phase of its run; RoundLost when the claim lost it."""
    with session_scope() as session:
        if not repo.beat(session, claim.round_id, claim.token):
            raise RoundLost(f"round {claim.round_id} is no longer this worker's")


def record_counts(claim: RoundClaim, counts: dict) -> None:
    with session_scope() as session:
        if not repo.beat(session, claim.round_id, claim.token):
            raise RoundLost(f"round {claim.round_id} is no longer this worker's")
        session.get(TrainingRound, claim.round_id).counts = counts


def add_step(claim: RoundClaim, metrics: dict) -> None:
    """One training step's metrics (the curves), which is also a heartbeat; RoundLost when the claim lost it."""
    with session_scope() as session:
        if not repo.add_step(session, claim.round_id, claim.token, metrics):
            raise RoundLost(f"round {claim.round_id} is no longer this worker's")


def cancel_requested(round_id: int) -> bool:
    with session_scope() as session:
        return bool(session.scalar(select(TrainingRound.cancel_requested).where(TrainingRound.id == round_id)))


def finish_round(round_id: int, state: RoundState, reason: str | None = None) -> None:
    """End a round that holds no claim (the schedule's refused config, a broker that refused it)."""
    with session_scope() as session:
        repo.finish_round(session, session.get(TrainingRound, round_id), state, reason)


def end_claimed(claim: RoundClaim, state: RoundState, reason: str | None = None) -> bool:
    """End the round by its own claim; False when it was lost meanwhile (then nothing changes)."""
    with session_scope() as session:
        return repo.end_claimed(session, claim.round_id, claim.token, state, reason)


def publish(claim: RoundClaim, new: NewCheckpoint, settings: Settings) -> int:
    """Register the round's checkpoint in its campaign's lineage (rejected when it failed the gate) and end
    the round as succeeded: one transaction, under the claim. One that passed the gate becomes the candidate
    its campaign's labelers judge (DPOLOOP_PROMOTION=labelers), or serves its campaign at once (gate, with
    DPOLOOP_AUTO_PROMOTE). A lost round registers and promotes nothing (RoundLost)."""
    new = replace(new, campaign_id=claim.campaign_id)
    with session_scope() as session:
        if not repo.beat(session, claim.round_id, claim.token):  # locks the row until the commit
            raise RoundLost(f"round {claim.round_id} was declared lost; its checkpoint is not registered")
        checkpoint_id = register_checkpoint(session, new)
        session.get(TrainingRound, claim.round_id).metrics = new.metrics
        if new.passed_gate and settings.promotion == Promotion.labelers:
            candidates.nominate(session, checkpoint_id)
        elif new.passed_gate and settings.auto_promote:
            promote(session, checkpoint_id, by="gate", reason=f"round {claim.round_id} passed the gate")
        repo.end_claimed(session, claim.round_id, claim.token, RoundState.succeeded, checkpoint_id=checkpoint_id)
        return checkpoint_id
