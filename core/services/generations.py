"""Generations: a client's request and its wait, the rows a worker makes images for, and the sweep
that finishes what a lost worker left behind."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.db.models import DEFAULT_CAMPAIGN_ID, Checkpoint, Generation, Labeler
from core.db.session import session_scope
from core.queue import GENERATE_IMAGE, send
from core.refs import BASE_CHECKPOINT, Blend, CheckpointRef
from core.repo import generations as repo
from core.repo.checkpoints import UnusableCheckpoint, active_checkpoint_id, checkpoint_ref
from core.repo.generations import StartedGeneration
from core.schemas.generation import GenerationParams, GenerationRequest
from core.services import blends, campaigns, candidates, prompt_filter
from core.services.blends import UnusableBlend
from core.settings import Settings
from core.states import GENERATION_FINISHED, CheckpointStatus, GenerationPurpose, GenerationStatus, Role

log = logging.getLogger(__name__)
REQUEUE_AFTER = timedelta(minutes=3)  # a client request still unfinished this long is sent again
GIVE_UP_AFTER = timedelta(minutes=30)  # and failed after this long
WAIT_FIRST_POLL_S, WAIT_LONGEST_POLL_S = 0.05, 1.0  # a waiter looks often at first, then less and less


class PinningForbidden(PermissionError):
    """A labeler asked for a specific checkpoint."""


class TooManyPending(RuntimeError):
    """This token has as many generations queued or running as it may."""

    retry_after_s = 5


# ---- clients ------------------------------------------------------------------------------------
class PromptRefused(ValueError):
    """The prompt filter (or classifier) refuses this prompt; the message names the rule."""


class UnusableCampaign(ValueError):
    """The request names a campaign that does not exist or is archived."""


def request_generation(request: GenerationRequest, labeler: Labeler, settings: Settings) -> Generation:
    """Record a client's request and queue it. PinningForbidden when a labeler pins a checkpoint (it
    would let them render any checkpoint at any seed, and so unblind evaluation pairs);
    UnusableCheckpoint for a pinned checkpoint that does not exist, is broken, is the candidate under
    judgement or a rejected one no admin promoted since; PromptRefused by the
    prompt filter (ClassifierUnavailable if its classifier hook fails); UnusableCampaign for a `campaign`
    that does not exist or is archived (else its serving checkpoint makes it); UnusableBlend for `adapters`
    naming such a campaign or one serving a full fine-tune (a request naming neither gets the install's
    default blend); QueueUnavailable
    when the broker is down (the row is then failed, so nothing waits forever)."""
    if request.checkpoint_id is not None and labeler.role != Role.admin:
        raise PinningForbidden("only admins may pin a generation to a checkpoint")
    reason = prompt_filter.refusal(request.prompt, settings)  # not the negative prompt: "no gore" is fine there
    if reason:
        raise PromptRefused(reason)
    values = request.model_dump(exclude={"checkpoint_id", "campaign", "adapters"})
    if "num_inference_steps" not in request.model_fields_set:
        values["num_inference_steps"] = settings.default_steps
    if "guidance_scale" not in request.model_fields_set:
        values["guidance_scale"] = settings.default_guidance
    with session_scope() as session:
        pending = session.scalar(
            select(func.count(Generation.id)).where(
                Generation.requested_by == labeler.id,
                Generation.status.in_((GenerationStatus.queued, GenerationStatus.running)),
            )
        )
        if pending >= settings.max_pending_generations:
            raise TooManyPending(f"{pending} of your generations are still queued or running "
                                 f"(at most {settings.max_pending_generations}); wait for them")  # fmt: skip
        if request.checkpoint_id is not None:
            checkpoint = session.get(Checkpoint, request.checkpoint_id)
            if checkpoint is None or checkpoint.status == CheckpointStatus.broken:
                raise UnusableCheckpoint(f"checkpoint {request.checkpoint_id} does not exist or is broken")
            refusal = candidates.generation_refusal(session, request.checkpoint_id)
            if refusal:  # the candidate serves no client before its verdict (nor after a rejection)
                raise UnusableCheckpoint(refusal)
        pinned = request.checkpoint_id if request.campaign is None else _serving(session, request.campaign)
        adapters = request.adapters
        if adapters is None and request.checkpoint_id is None and request.campaign is None:
            adapters = blends.default_blend(session)
            if not blends.usable(session, adapters, settings.adapters_held):
                # A campaign in it now serves a full fine-tune (which cannot be blended): until an admin
                # changes the blend, plain requests get what serves default rather than a refusal.
                log.warning("the default blend %s cannot be made now; serving default's checkpoint", adapters)
                adapters = None
        elif adapters is not None and not blends.follows_default(adapters):
            blends.check(session, adapters, settings.adapters_held)
        if adapters is not None and blends.follows_default(adapters):
            adapters = None  # default's serving checkpoint when the image is made, as without blends
        generation = repo.create_generation(
            session, GenerationParams(**values), purpose=GenerationPurpose.api, requested_by=labeler.id,
            requested_checkpoint_id=pinned,
        )  # fmt: skip
        generation.requested_adapters = adapters
    try:
        send(GENERATE_IMAGE, generation.id)
    except Exception as exc:
        fail_generations([generation.id], f"could not queue the task: {exc}")
        generation.status = GenerationStatus.failed
        raise
    return generation


def _serving(session: Session, campaign: str) -> int | None:
    """What serves the campaign now (None for default's: whatever serves it when the image is made);
    UnusableCampaign for an unknown or archived one."""
    try:
        found = campaigns.by_name(session, campaign, active=True)
    except (campaigns.UnknownCampaign, campaigns.CampaignRefused) as exc:
        raise UnusableCampaign(str(exc)) from exc
    return None if found.id == DEFAULT_CAMPAIGN_ID else active_checkpoint_id(session, found.id)


def load(generation_id: int) -> Generation | None:
    with session_scope() as session:
        return session.get(Generation, generation_id)


async def wait_for(generation: Generation, timeout_s: float) -> Generation:
    """The generation once finished, or as it stands after timeout_s."""
    deadline, pause = time.monotonic() + timeout_s, WAIT_FIRST_POLL_S
    while generation.status not in GENERATION_FINISHED and time.monotonic() < deadline:
        await asyncio.sleep(min(pause, max(0.0, deadline - time.monotonic())))
        pause = min(pause * 1.5, WAIT_LONGEST_POLL_S)
        generation = await asyncio.to_thread(load, generation.id) or generation
    return generation


def read_generation(generation_id: int, viewer: Labeler) -> Generation | None:
    """A generation as this viewer may see it: labelers see only their own requests (a pool image
    must not reveal its checkpoint); admins see all."""
    generation = load(generation_id)
    if generation is None or (viewer.role != Role.admin and generation.requested_by != viewer.id):
        return None
    return generation


# ---- workers --------------------------------------------------------------------------------------
def start_generations(
    requests: list[GenerationParams],
    purpose: GenerationPurpose,
    checkpoint_id: int | None = None,
    prompt_ids: list[int | None] | None = None,
) -> list[StartedGeneration]:
    """Rows for images a worker is about to make itself (pool and evaluation images)."""
    with session_scope() as session:
        rows = [repo.create_generation(session, params, purpose=purpose, requested_checkpoint_id=checkpoint_id,
                                       prompt_id=prompt_id)
                for params, prompt_id in zip(requests, prompt_ids or [None] * len(requests), strict=True)]  # fmt: skip
        return [repo.start(row) for row in rows]


@dataclass(frozen=True)
class GenerationJob:
    """A client's request as the worker makes it."""

    started: StartedGeneration
    params: GenerationParams
    checkpoint: CheckpointRef | Blend | None  # None: whatever serves default when it runs

    @property
    def blend(self) -> dict[str, float] | None:
        """What to record as the blend that made it (None when one checkpoint did)."""
        return self.checkpoint.describe() if isinstance(self.checkpoint, Blend) else None


def claim_generation(generation_id: int) -> GenerationJob | None:
    """Mark a queued request running; None when there is nothing to make (gone, a redelivery of
    finished work, or pinned to a checkpoint or blend that cannot serve: then it is failed with the reason).
    A blend's campaigns are resolved to what serves each now."""
    with session_scope() as session:
        generation = session.get(Generation, generation_id)
        if generation is None or generation.status == GenerationStatus.done:
            return None
        checkpoint = None
        if generation.requested_checkpoint_id is not None:
            try:
                checkpoint = checkpoint_ref(session, generation.requested_checkpoint_id)
            except UnusableCheckpoint as exc:
                repo.mark_failed(generation, str(exc))
                return None
        elif generation.requested_adapters:
            try:
                checkpoint = _one_checkpoint(blends.resolve(session, generation.requested_adapters))
            except (UnusableBlend, UnusableCheckpoint) as exc:
                repo.mark_failed(generation, f"the blend cannot be made: {exc}")
                return None
        return GenerationJob(repo.start(generation), repo.params_of(generation), checkpoint)


def _one_checkpoint(blend: Blend) -> CheckpointRef | Blend:
    """A blend that is one checkpoint at full weight (or the base) is made and recorded as that checkpoint."""
    if not blend.parts:
        return BASE_CHECKPOINT
    if len(blend.parts) == 1 and blend.parts[0][1] == 1.0:
        return blend.parts[0][0]
    return blend


def finish_generations(
    ids: list[int], checkpoint_id: int | None, duration_ms: float, blend: dict[str, float] | None = None
) -> None:
    """Mark images done whose files the worker has written (files first: a done row has files). A blend
    made them when `blend` is given (checkpoint id → weight; checkpoint_id is then None)."""
    with session_scope() as session:
        for generation_id in ids:
            generation = session.get(Generation, generation_id)
            repo.mark_done(generation, checkpoint_id, duration_ms)
            generation.blend = blend


def fail_generations(ids: list[int], error: str) -> None:
    with session_scope() as session:
        for generation_id in ids:
            repo.mark_failed(session.get(Generation, generation_id), error)


def sweep_stale() -> dict:
    """Finish what a lost worker left behind: a client's request that waited too long is sent again
    (the task is idempotent) until it is hopeless, then failed; pool and evaluation images, which
    nobody waits for, are failed. Tasks are sent after the commit."""
    now = datetime.now(UTC)
    requeue, failed = [], 0
    with session_scope() as session:
        stale = session.scalars(
            select(Generation).where(
                Generation.status.in_((GenerationStatus.queued, GenerationStatus.running)),
                Generation.created_at < now - REQUEUE_AFTER,
            )
        ).all()
        for generation in stale:
            if generation.purpose != GenerationPurpose.api or generation.created_at < now - GIVE_UP_AFTER:
                repo.mark_failed(generation, "abandoned: the worker making it was lost")
                failed += 1
            else:
                generation.status = GenerationStatus.queued
                requeue.append(generation.id)
    for generation_id in requeue:
        send(GENERATE_IMAGE, generation_id)
    return {"requeued": len(requeue), "failed": failed}
