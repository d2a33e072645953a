"""Generation rows: created by the API or the pool, completed by a worker."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import exists, or_, select, update
from sqlalchemy.orm import Session

from core.db.models import Comparison, Generation
from core.schemas.generation import MAX_SEED, GenerationParams
from core.states import GenerationPurpose, GenerationStatus


def create_generation(
    session: Session,
    params: GenerationParams,
    *,
    purpose: GenerationPurpose = GenerationPurpose.api,
    requested_by: int | None = None,
    requested_checkpoint_id: int | None = None,
    prompt_id: int | None = None,
) -> Generation:
    """A queued generation; the seed is fixed now so the row alone can reproduce the image."""
    seed = params.seed if params.seed is not None else secrets.randbelow(MAX_SEED)
    generation = Generation(
        public_id=uuid.uuid4().hex,
        prompt=params.prompt,
        prompt_id=prompt_id,
        params=params.model_dump(exclude={"prompt", "seed"}),
        seed=seed,
        purpose=purpose,
        requested_by=requested_by,
        requested_checkpoint_id=requested_checkpoint_id,
        status=GenerationStatus.queued,
    )
    session.add(generation)
    session.flush()
    return generation


def params_of(generation: Generation) -> GenerationParams:
    return GenerationParams(prompt=generation.prompt, seed=generation.seed, **generation.params)


def image_relpath(generation: Generation) -> str:
    return f"{generation.public_id}.png"


def latents_relpath(generation: Generation) -> str | None:
    """Where its final latents go; None for a client's image, which no round trains on."""
    return None if generation.purpose == GenerationPurpose.api else f"{generation.public_id}.npy"


def mark_done(generation: Generation, checkpoint_id: int | None, duration_ms: float) -> None:
    generation.status = GenerationStatus.done
    generation.checkpoint_id = checkpoint_id
    generation.image_path = image_relpath(generation)
    generation.latents_path = latents_relpath(generation)
    generation.duration_ms = duration_ms
    generation.finished_at = datetime.now(UTC)
    generation.error = None


def mark_failed(generation: Generation, error: str) -> None:
    generation.status = GenerationStatus.failed
    generation.error = error[:2000]
    generation.finished_at = datetime.now(UTC)


@dataclass(frozen=True)
class StartedGeneration:
    """A generation row marked running: where its files go (relative to the media and latents dirs)."""

    id: int
    image_path: str
    latents_path: str | None  # None: the image alone is kept


def start(generation: Generation) -> StartedGeneration:
    """Mark a row running (the worker makes it now) and say where its files go."""
    generation.status = GenerationStatus.running
    return StartedGeneration(generation.id, image_relpath(generation), latents_relpath(generation))


def shown():
    """A condition on Generation: some comparison shows it (a pairing candidate that was picked)."""
    return exists().where(or_(Comparison.generation_a_id == Generation.id, Comparison.generation_b_id == Generation.id))


def claim_spares(session: Session, checkpoint_id: int, prompt_id: int, since: datetime, limit: int,
                 now: datetime, stale: datetime) -> list[Generation]:  # fmt: skip
    """Claim up to `limit` of the newest pool images of this checkpoint and prompt that no comparison
    shows, rendered since `since`, with their latents on disk and no live claim (none, or one made
    before `stale`): candidates a later pair may choose from again. Each claim is a conditional
    update, so two workers planning at once never get the same spare."""
    unclaimed = or_(Generation.offered_at.is_(None), Generation.offered_at < stale)
    rows = session.scalars(select(Generation).where(
        Generation.purpose == GenerationPurpose.pool, Generation.status == GenerationStatus.done,
        Generation.checkpoint_id == checkpoint_id, Generation.prompt_id == prompt_id,
        Generation.image_path.is_not(None), Generation.latents_path.is_not(None),
        Generation.finished_at >= since, unclaimed, ~shown(),
    ).order_by(Generation.id.desc()).limit(limit)).all()  # fmt: skip
    claimed = []
    for row in rows:
        taken = session.execute(update(Generation).where(Generation.id == row.id, unclaimed)
                                .values(offered_at=now).execution_options(synchronize_session=False))  # fmt: skip
        if taken.rowcount == 1:
            claimed.append(row)
    return claimed


def release_spares(session: Session, ids: list[int]) -> None:
    """The pair they were offered to is recorded: the spares it did not show may be offered again."""
    if ids:
        session.execute(update(Generation).where(Generation.id.in_(ids)).values(offered_at=None)
                        .execution_options(synchronize_session=False))  # fmt: skip
