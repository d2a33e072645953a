"""Human evaluation of promotions (DESIGN, step 6): which evaluation is due, its requests, its win rate.

After a promotion the generate worker pairs the new checkpoint's images with the previous one's on
the fixed evaluation prompts, same prompt and seed per pair; labelers get those comparisons before
train ones, sides hidden. Votes on them never become training data (that would train on the test).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.db.models import Checkpoint, Choice, Comparison, Deployment, Evaluation, EvaluationState, Vote
from app.repo.checkpoints import active_checkpoint_id
from app.repo.prompts import active_prompts
from app.schemas.generation import MAX_SEED, GenerationParams
from app.settings import Settings
from app.win_rate import WinRate

# A failed evaluation is tried again after this; a claim silent this long is taken as a dead worker's.
RETRY_FAILED = timedelta(seconds=60)
STALE_CLAIM = timedelta(minutes=10)


def evaluation_seed(prompt: str, index: int) -> int:
    """The same seed for a prompt whatever checkpoint draws it: pairs differ only in the weights."""
    return int.from_bytes(hashlib.sha256(f"eval:{index}:{prompt}".encode()).digest()[:8], "big") % MAX_SEED


@dataclass(frozen=True)
class EvaluationRequest:
    prompt_id: int
    params: GenerationParams


def evaluation_requests(session: Session, settings: Settings) -> list[EvaluationRequest]:
    """Every image of the fixed evaluation set: each active eval prompt × eval_seeds_per_prompt seeds."""
    return [
        EvaluationRequest(prompt.id, GenerationParams(
            prompt=prompt.text, seed=evaluation_seed(prompt.text, k), num_inference_steps=settings.default_steps,
            guidance_scale=settings.default_guidance,
        ))
        for prompt in active_prompts(session, for_eval=True)
        for k in range(settings.eval_seeds_per_prompt)
    ]  # fmt: skip


def previous_checkpoint_id(session: Session) -> int | None:
    """The checkpoint that served before the active one (None while the first one still serves)."""
    active = active_checkpoint_id(session)
    return session.scalar(
        select(Deployment.checkpoint_id)
        .join(Checkpoint, Checkpoint.id == Deployment.checkpoint_id)
        .where(Deployment.checkpoint_id != active, Checkpoint.status != "broken")
        .order_by(Deployment.id.desc())
        .limit(1)
    )


def claim_evaluation(session: Session, checkpoint_id: int, baseline_id: int) -> int | None:
    """Take the job of making this evaluation; returns its id, or None when it is made or being made.

    The unique (checkpoint, baseline) row decides between workers; a failed or abandoned one is
    taken again after a while. The caller commits."""
    state = session.scalar(
        select(Evaluation.state).where(Evaluation.checkpoint_id == checkpoint_id, Evaluation.baseline_id == baseline_id)
    )
    if state == EvaluationState.ready:
        return None  # the common case, read-only: every pool fill asks
    now = datetime.now(UTC)
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    new_id = session.execute(
        insert(Evaluation)
        .values(
            checkpoint_id=checkpoint_id,
            baseline_id=baseline_id,
            state=EvaluationState.generating,
            pairs=0,
            claimed_at=now,
            created_at=now,
        )  # fmt: skip
        .on_conflict_do_nothing(index_elements=["checkpoint_id", "baseline_id"])
        .returning(Evaluation.id)
    ).scalar()
    if new_id is not None:
        return new_id
    retaken = session.execute(
        update(Evaluation)
        .where(
            Evaluation.checkpoint_id == checkpoint_id,
            Evaluation.baseline_id == baseline_id,
            or_(
                and_(Evaluation.state == EvaluationState.failed, Evaluation.claimed_at < now - RETRY_FAILED),
                and_(Evaluation.state == EvaluationState.generating, Evaluation.claimed_at < now - STALE_CLAIM),
            ),
        )
        .values(state=EvaluationState.generating, claimed_at=now, error=None)
        .returning(Evaluation.id)
    ).scalar()
    return retaken


@dataclass
class EvaluationTally(WinRate):
    """Votes on one evaluation's comparisons, from the new checkpoint's side."""

    both_bad: int = 0
    skips: int = 0


def evaluation_tallies(session: Session, evaluation_ids: list[int] | None = None) -> dict[int, EvaluationTally]:
    """Per evaluation: each vote counts (several labelers on one pair are several judgements)."""
    query = (
        select(Comparison.evaluation_id, Comparison.generation_a_id, Vote.choice, Vote.winner_generation_id)
        .join(Vote, Vote.comparison_id == Comparison.id)
        .where(Comparison.evaluation_id.is_not(None))
    )
    if evaluation_ids is not None:
        query = query.where(Comparison.evaluation_id.in_(evaluation_ids))
    tallies: dict[int, EvaluationTally] = {}
    for evaluation_id, new_generation, choice, winner in session.execute(query):
        tally = tallies.setdefault(evaluation_id, EvaluationTally())
        if choice in (Choice.left, Choice.right):
            if winner == new_generation:
                tally.wins += 1
            else:
                tally.losses += 1
        elif choice == Choice.tie:
            tally.ties += 1
        elif choice == Choice.both_bad:
            tally.both_bad += 1
        else:
            tally.skips += 1
    return tallies


def list_evaluations(session: Session, checkpoint_id: int | None = None) -> list[Evaluation]:
    query = select(Evaluation).order_by(Evaluation.id.desc())
    if checkpoint_id is not None:
        query = query.where(Evaluation.checkpoint_id == checkpoint_id)
    return list(session.scalars(query))


def latest_evaluations(
    session: Session, checkpoint_id: int | None = None
) -> dict[int, tuple[Evaluation, EvaluationTally]]:
    """Each checkpoint's newest evaluation with its votes counted."""
    newest: dict[int, Evaluation] = {}
    for evaluation in list_evaluations(session, checkpoint_id):  # newest first
        newest.setdefault(evaluation.checkpoint_id, evaluation)
    tallies = evaluation_tallies(session, [e.id for e in newest.values()])
    return {c: (e, tallies.get(e.id) or EvaluationTally()) for c, e in newest.items()}


def describe(evaluation: Evaluation, tally: EvaluationTally) -> str:
    """One line for a terminal: 'humans 72% (61–81%) of 40 votes vs 3'."""
    if evaluation.state != EvaluationState.ready:
        return f"humans: evaluation vs {evaluation.baseline_id} {evaluation.state.value}"
    if tally.rate is None:
        return f"humans: no votes yet vs {evaluation.baseline_id}"
    low, high = tally.interval
    return f"humans {tally.rate:.0%} ({low:.0%}–{high:.0%}) of {tally.decided} votes vs {evaluation.baseline_id}"
