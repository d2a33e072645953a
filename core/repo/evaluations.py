"""Human evaluation: which evaluation is due, its requests, its pairs, its win rate.

Two checkpoints render the evaluation prompts, same prompt and seed per pair: a judging candidate
against what serves (before it may serve; in batches of one seed per prompt, appended to its one
evaluation as labelers use the pairs up), or a checkpoint promoted without the labelers' verdict
against the one it replaced (all at once), or an arena match's two. Each evaluation draws its own
seeds and renders both sides afresh: no image of one evaluation is shown again in another. Labelers
get the pairs before train ones, sides hidden. Votes on them never become training data (that would
train on the test). Only people in good standing measure: the callers name the voters whose votes
are not counted.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from core.db.models import Candidacy, Checkpoint, Comparison, Deployment, Evaluation, Generation, Vote
from core.db.session import insert_for
from core.repo.checkpoints import lineage_campaign
from core.repo.generations import params_of
from core.repo.install import keyed_digest
from core.repo.prompts import active_prompts
from core.schemas.generation import MAX_SEED, GenerationParams
from core.settings import Settings
from core.states import (
    DEFAULT_CAMPAIGN_ID,
    CandidateState,
    CheckpointStatus,
    Choice,
    ComparisonKind,
    ComparisonState,
    EvaluationKind,
    GenerationPurpose,
    GenerationStatus,
)
from core.win_rate import WinRate


def evaluation_seed(session: Session, checkpoint_id: int, baseline_id: int, prompt: str, index: int) -> int:
    """A seed of the evaluation of `checkpoint_id` against `baseline_id` (one per ordered pair), the same
    for both sides (pairs differ only in the weights), keyed by the install's secret: nobody can render
    an evaluation image ahead, and no evaluation shares a seed or an image with another, so a labeler
    who remembers an image from one learns nothing about the sides of the next."""
    return _keyed_seed(session, f"evaluation:{checkpoint_id}:{baseline_id}:{index}:{prompt}")


def grid_seed(session: Session, prompt: str, index: int) -> int:
    """The same-seed grid's fixed seed for a prompt, whatever checkpoint draws it (the key evaluations
    used before they drew their own seeds: a grid shows the images made then)."""
    return _keyed_seed(session, f"eval:{index}:{prompt}")


def _keyed_seed(session: Session, message: str) -> int:
    return int.from_bytes(keyed_digest(session, message)[:8], "big") % MAX_SEED


@dataclass(frozen=True)
class EvaluationRequest:
    prompt_id: int
    params: GenerationParams


def evaluation_requests(
    session: Session, settings: Settings, checkpoint_id: int, baseline_id: int
) -> list[EvaluationRequest]:
    """Every image of one side of the evaluation of `checkpoint_id` against `baseline_id`: each active
    eval prompt of their campaign × eval_seeds_per_prompt seeds of that evaluation (both sides render
    them afresh)."""
    return _requests(session, settings, lambda prompt, k: evaluation_seed(session, checkpoint_id, baseline_id,
                                                                          prompt, k),
                     campaign_id=lineage_campaign(session, checkpoint_id, baseline_id))  # fmt: skip


def batch_requests(
    session: Session, settings: Settings, checkpoint_id: int, baseline_id: int, index: int
) -> list[EvaluationRequest]:
    """One batch of a candidacy's evaluation (one side): each active eval prompt of its campaign with seed
    `index` of that evaluation. The caller passes the pairs made so far as the index: it rises with every
    batch, so no prompt meets a seed twice even when the eval prompts change between batches."""
    return _requests(session, settings, lambda prompt, k: evaluation_seed(session, checkpoint_id, baseline_id,
                                                                          prompt, k), [index],
                     campaign_id=lineage_campaign(session, checkpoint_id, baseline_id))  # fmt: skip


def grid_requests(session: Session, settings: Settings, campaign_id: int = DEFAULT_CAMPAIGN_ID
                  ) -> list[EvaluationRequest]:  # fmt: skip
    """Every image of a same-seed grid column: each active eval prompt of the campaign (the lineage the
    grid shows) × eval_seeds_per_prompt fixed seeds."""
    return _requests(session, settings, lambda prompt, k: grid_seed(session, prompt, k), campaign_id=campaign_id)


def _requests(
    session: Session, settings: Settings, seed_of: Callable[[str, int], int], indices: Iterable[int] | None = None,
    campaign_id: int = DEFAULT_CAMPAIGN_ID,
) -> list[EvaluationRequest]:
    indices = list(range(settings.eval_seeds_per_prompt) if indices is None else indices)
    return [
        EvaluationRequest(prompt.id, GenerationParams(
            prompt=prompt.text, seed=seed_of(prompt.text, k),
            num_inference_steps=settings.default_steps, guidance_scale=settings.default_guidance,
        ))
        for prompt in active_prompts(session, for_eval=True, campaign_id=campaign_id)
        for k in indices
    ]  # fmt: skip


def made_images(session: Session, checkpoint_id: int, requests: list[EvaluationRequest]) -> list[int | None]:
    """Per request, a finished eval image of this checkpoint made with exactly its parameters, or None."""
    return [found[0] if found else None for found in _made(session, checkpoint_id, requests)]


def made_image_paths(session: Session, checkpoint_id: int, requests: list[EvaluationRequest]) -> list[str | None]:
    """Per request, the media path of that image, or None."""
    return [found[1] if found else None for found in _made(session, checkpoint_id, requests)]


def _made(session: Session, checkpoint_id: int, requests: list[EvaluationRequest]) -> list[tuple[int, str] | None]:
    made = session.scalars(
        select(Generation).where(
            Generation.purpose == GenerationPurpose.eval,
            Generation.checkpoint_id == checkpoint_id,
            Generation.status == GenerationStatus.done,
            Generation.seed.in_({r.params.seed for r in requests}),
        )
    )
    found = {params_of(g).model_dump_json(): (g.id, g.image_path) for g in made}
    return [found.get(r.params.model_dump_json()) for r in requests]


def previous_checkpoint_id(session: Session, active: int, campaign_id: int = DEFAULT_CAMPAIGN_ID) -> int | None:
    """The checkpoint that served the campaign before `active` (None while the first one still serves)."""
    return session.scalar(
        select(Deployment.checkpoint_id)
        .join(Checkpoint, Checkpoint.id == Deployment.checkpoint_id)
        .where(Deployment.checkpoint_id != active, Checkpoint.status != CheckpointStatus.broken,
               Deployment.campaign_id == campaign_id)
        .order_by(Deployment.id.desc())
        .limit(1)
    )


def evaluation_exists(session: Session, checkpoint_id: int, baseline_id: int) -> bool:
    return evaluation_between(session, checkpoint_id, baseline_id, either_way=False) is not None


def evaluation_between(session: Session, first: int, second: int, either_way: bool = True) -> int | None:
    """The evaluation of `first` against `second` (or, either_way, of `second` against `first`)."""
    pairs = [(first, second), (second, first)] if either_way else [(first, second)]
    return session.scalar(
        select(Evaluation.id).where(
            or_(*(and_(Evaluation.checkpoint_id == a, Evaluation.baseline_id == b) for a, b in pairs))
        ).limit(1)
    )


def create_evaluation(
    session: Session,
    checkpoint_id: int,
    baseline_id: int,
    requests: list[EvaluationRequest],
    new_images: list[int],
    old_images: list[int],
    kind: EvaluationKind = EvaluationKind.promotion,
) -> int | None:
    """The evaluation row and its comparisons (image A the new checkpoint's), in the caller's
    transaction; None when another worker wrote it first (the unique pair decides)."""
    evaluation_id = session.execute(
        insert_for(session, Evaluation)
        .values(checkpoint_id=checkpoint_id, baseline_id=baseline_id, kind=kind, pairs=len(requests),
                created_at=datetime.now(UTC))
        .on_conflict_do_nothing(index_elements=["checkpoint_id", "baseline_id"])
        .returning(Evaluation.id)
    ).scalar()
    if evaluation_id is None:
        return None
    _add_comparisons(session, evaluation_id, checkpoint_id, requests, new_images, old_images, kind)
    return evaluation_id


def append_batch(
    session: Session,
    checkpoint_id: int,
    baseline_id: int,
    pairs_before: int,
    requests: list[EvaluationRequest],
    new_images: list[int],
    old_images: list[int],
) -> int | None:
    """A batch of a candidacy's evaluation, in the caller's transaction: the evaluation with its first
    batch (pairs_before 0), or its pairs added to it; None when another worker added this batch first.
    The pair count must still be `pairs_before`: checked and raised in one statement (the row's lock on
    Postgres, the one writer on SQLite), so of two workers that made the same batch only one adds it."""
    if pairs_before == 0:
        return create_evaluation(session, checkpoint_id, baseline_id, requests, new_images, old_images)
    evaluation_id = session.execute(
        update(Evaluation)
        .where(
            Evaluation.checkpoint_id == checkpoint_id,
            Evaluation.baseline_id == baseline_id,
            Evaluation.pairs == pairs_before,
        )
        .values(pairs=Evaluation.pairs + len(requests))
        .returning(Evaluation.id)
    ).scalar()
    if evaluation_id is None:
        return None
    _add_comparisons(session, evaluation_id, checkpoint_id, requests, new_images, old_images, EvaluationKind.promotion)
    return evaluation_id


def _add_comparisons(
    session: Session,
    evaluation_id: int,
    checkpoint_id: int,
    requests: list[EvaluationRequest],
    new_images: list[int],
    old_images: list[int],
    kind: EvaluationKind,
) -> None:
    comparison_kind = ComparisonKind.match if kind == EvaluationKind.match else ComparisonKind.eval
    evaluation = session.get(Evaluation, evaluation_id)
    campaign_id = lineage_campaign(session, evaluation.checkpoint_id, evaluation.baseline_id)  # whose labelers
    session.add_all(
        Comparison(prompt_id=r.prompt_id, prompt=r.params.prompt, generation_a_id=new, generation_b_id=old,
                   kind=comparison_kind, state=ComparisonState.ready, checkpoint_id=checkpoint_id,
                   evaluation_id=evaluation_id, campaign_id=campaign_id)
        for r, new, old in zip(requests, new_images, old_images, strict=True)
    )  # fmt: skip
    session.flush()


def evaluation_of(session: Session, checkpoint_id: int, baseline_id: int) -> Evaluation | None:
    """The evaluation of `checkpoint_id` against `baseline_id` (this way round), if made."""
    return session.scalar(
        select(Evaluation).where(Evaluation.checkpoint_id == checkpoint_id, Evaluation.baseline_id == baseline_id)
    )


def candidacy_judged_against(session: Session, candidacy_id: int) -> int | None:
    """What the candidacy is judged against while it is judging (None once decided); its row locked
    on Postgres, so a decision waits for the caller's transaction or is seen by it."""
    return session.scalar(
        select(Candidacy.serving_id)
        .where(Candidacy.id == candidacy_id, Candidacy.state == CandidateState.judging)
        .with_for_update()
    )


def open_comparisons(session: Session, evaluation_id: int) -> int:
    """The evaluation's pairs still in the pool: ready, not yet carrying their votes."""
    return session.scalar(
        select(func.count(Comparison.id)).where(
            Comparison.evaluation_id == evaluation_id, Comparison.state == ComparisonState.ready
        )
    )


@dataclass
class EvaluationTally(WinRate):
    """Votes on one evaluation's comparisons, from the new checkpoint's side."""

    both_bad: int = 0
    skips: int = 0


def evaluation_voters(session: Session) -> list[int]:
    """Every labeler who voted on an evaluation or arena pair."""
    return list(session.scalars(
        select(Vote.labeler_id).distinct()
        .join(Comparison, Comparison.id == Vote.comparison_id)
        .where(Comparison.evaluation_id.is_not(None))
    ))  # fmt: skip


def evaluation_tallies(
    session: Session, evaluation_ids: list[int] | None, uncounted: Collection[int]
) -> dict[int, EvaluationTally]:
    """Per evaluation: each vote counts (several labelers on one pair are several judgements), except
    the votes of the `uncounted` labelers."""
    query = (
        select(Comparison.evaluation_id, Comparison.generation_a_id, Vote.choice, Vote.winner_generation_id)
        .join(Vote, Vote.comparison_id == Comparison.id)
        .where(Comparison.evaluation_id.is_not(None))
    )
    if uncounted:
        query = query.where(Vote.labeler_id.not_in(uncounted))
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
    session: Session, checkpoint_id: int | None, uncounted: Collection[int]
) -> dict[int, tuple[Evaluation, EvaluationTally]]:
    """Each checkpoint's newest promotion evaluation (against the one it replaced), votes counted (but
    the `uncounted` labelers'); an
    arena match it played as A where it has none (a match of the same two makes the promotion's redundant)."""
    newest: dict[int, Evaluation] = {}
    evaluations = list_evaluations(session, checkpoint_id)  # newest first
    for evaluation in sorted(evaluations, key=lambda e: e.kind != EvaluationKind.promotion):  # stable
        newest.setdefault(evaluation.checkpoint_id, evaluation)
    tallies = evaluation_tallies(session, [e.id for e in newest.values()], uncounted)
    return {c: (e, tallies.get(e.id) or EvaluationTally()) for c, e in newest.items()}


def describe(evaluation: Evaluation, tally: EvaluationTally) -> str:
    """One line for a terminal: 'humans 72% (61–81%) of 40 votes vs 3; judge scenes 75% of 16'."""
    if tally.rate is None:
        line = f"humans: no votes yet vs {evaluation.baseline_id}"
    else:
        low, high = tally.interval
        line = f"humans {tally.rate:.0%} ({low:.0%}–{high:.0%}) of {tally.decided} votes vs {evaluation.baseline_id}"
    verdict = evaluation.judge_verdict
    if verdict and verdict.get("win_rate") is not None:
        pairs = verdict["wins"] + verdict["losses"] + verdict["ties"]
        line += f"; judge {verdict['judge'].split(':')[0]} {verdict['win_rate']:.0%} of {pairs}"
    return line


def unjudged_evaluation(session: Session) -> Evaluation | None:
    """The oldest evaluation the automatic judge has not ruled on."""
    return session.scalar(select(Evaluation).where(Evaluation.judge_verdict.is_(None)).order_by(Evaluation.id).limit(1))


def evaluation_comparisons(session: Session, evaluation_id: int) -> list[tuple[str, str, str]]:
    """(prompt, image A's path, image B's path) per comparison (A is the evaluated checkpoint's)."""
    a, b = aliased(Generation), aliased(Generation)
    rows = session.execute(
        select(Comparison.prompt, a.image_path, b.image_path)
        .join(a, a.id == Comparison.generation_a_id)
        .join(b, b.id == Comparison.generation_b_id)
        .where(Comparison.evaluation_id == evaluation_id)
        .order_by(Comparison.id)
    )
    return [tuple(row) for row in rows]
