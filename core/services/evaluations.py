"""Human evaluation: same-seed pairs of two checkpoints on the fixed evaluation prompts, rated by
labelers blind. A judging candidate (core/repo/candidacies.py) is measured against what serves before
it may serve; a checkpoint promoted without the labelers' verdict (gate mode, an admin's promotion, a
rollback) against the one it replaced; arena matches (any two checkpoints an admin names) come once
neither is due.

The generate worker makes an evaluation a step at a time between pool batches (worker/tasks/
evaluation.py): each step asks `plan_step` what is missing — a chunk of one side's images (no more
than a pool batch's) — and once every image of the step's requests exists `record` writes the pairs
in one transaction. A candidacy's evaluation grows in batches, one seed per eval prompt: the next is
planned only when fewer than a batch of its pairs is open (labelers have used them up), and none
once its pairs could carry settings.verdict_max_votes votes or the candidacy has ended; each batch
joins the candidate's one Evaluation row, guarded by its pair count, so a batch two workers finish
together is added once. The candidate's images are rendered by the candidate (the worker wears it for
them, as for arena matches); it never becomes what serves. A promotion's or match's evaluation is
written whole, the unique (checkpoint, baseline) row keeping one when two workers get there together.

Both sides are rendered afresh with seeds of the evaluation (keyed by the install's secret and the
pair): an image a labeler saw in an earlier evaluation never comes back, so remembering it tells
nothing about sides. Images are matched by prompt, seed and parameters, so a step lost to a crash
costs only its chunk.

Only people in good standing measure: AI labelers' votes and those of labelers out of good standing
(judged when the votes are read, so one found out later stops counting at once) count in no win rate.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.orm import Session

from core.db.models import ArenaMatch, Candidacy, Checkpoint, Evaluation
from core.db.session import session_scope
from core.refs import CheckpointRef
from core.repo import candidacies, matches
from core.repo import evaluations as repo
from core.repo.checkpoints import active_checkpoint_id, checkpoint_files_ok, checkpoint_ref, lineage_campaign
from core.repo.evaluations import EvaluationRequest, EvaluationTally
from core.repo.prompts import active_prompts
from core.services import campaigns, quality
from core.settings import Settings, get_settings
from core.states import DEFAULT_CAMPAIGN_ID, CheckpointStatus, EvaluationKind

log = logging.getLogger(__name__)
_warned: set[tuple[str, int, int]] = set()


@dataclass(frozen=True)
class EvaluationStep:
    """The due evaluation of `checkpoint_id` against `baseline_id` (a candidacy's batch, a promotion's,
    or arena match `match_id`'s), and its next step: images to make with `render` (a chunk of
    `missing`), or, when render is None, writing it. A candidacy's batch (`candidacy_id` set) is added
    to its evaluation, which holds `pairs_before` pairs when the batch is planned."""

    checkpoint_id: int
    baseline_id: int
    requests: list[EvaluationRequest]
    render: CheckpointRef | None
    missing: list[EvaluationRequest]
    new_images: list[int | None]
    old_images: list[int | None]
    campaign_id: int = DEFAULT_CAMPAIGN_ID  # whose evaluation prompts and labelers
    match_id: int | None = None
    candidacy_id: int | None = None
    pairs_before: int = 0


def plan_step(settings: Settings) -> EvaluationStep | None:
    """The next step of the evaluation due now, or None when none is due (or it cannot be made). A
    judging candidacy's next batch comes first (it decides whether the candidate will serve; campaign by
    campaign), then a promotion's evaluation (gate mode, or a checkpoint promoted by hand), then arena
    matches. Each is made on its campaign's evaluation prompts."""
    with session_scope() as session:
        for campaign_id, candidacy in candidacies.judging_campaigns(session).items():
            pairs_before = _candidacy_due(session, settings, campaign_id, candidacy)
            if pairs_before is not None:
                requests = repo.batch_requests(session, settings, candidacy.checkpoint_id, candidacy.serving_id,
                                               pairs_before)  # fmt: skip
                return _next_step(session, settings, candidacy.checkpoint_id, candidacy.serving_id, requests,
                                  campaign_id, candidacy_id=candidacy.id, pairs_before=pairs_before)  # fmt: skip
        if settings.eval_seeds_per_prompt == 0:
            return None
        due = _promotion_due(session)
        if due is None and (match := _match_due(session)) is not None:
            due = (match.checkpoint_a_id, match.checkpoint_b_id, match.id)
        if due is None:
            return None
        checkpoint_id, baseline_id, match_id = due
        requests = repo.evaluation_requests(session, settings, checkpoint_id, baseline_id)
        campaign_id = lineage_campaign(session, checkpoint_id, baseline_id)
        return _next_step(session, settings, checkpoint_id, baseline_id, requests, campaign_id, match_id=match_id)


def _next_step(
    session: Session,
    settings: Settings,
    checkpoint_id: int,
    baseline_id: int,
    requests: list[EvaluationRequest],
    campaign_id: int,
    **due: int | None,
) -> EvaluationStep:
    """A chunk of the images still missing (a promotion's serving side first: no swap), or the writing."""
    sides = [(checkpoint_ref(session, c), repo.made_images(session, c, requests)) for c in (checkpoint_id, baseline_id)]
    (_, new_images), (_, old_images) = sides
    for checkpoint, images in sides:
        missing = [requests[i] for i, image in enumerate(images) if image is None]
        if missing:
            chunk = missing[: 2 * settings.pool_batch]  # a pool batch's worth of images
            return EvaluationStep(checkpoint_id, baseline_id, requests, checkpoint, chunk, new_images, old_images,
                                  campaign_id, **due)  # fmt: skip
    return EvaluationStep(checkpoint_id, baseline_id, requests, None, [], new_images, old_images, campaign_id, **due)


def _candidacy_due(session: Session, settings: Settings, campaign_id: int, candidacy: Candidacy) -> int | None:
    """The candidacy's evaluation's pairs so far while its next batch (one pair per evaluation prompt of
    its campaign) is due: its open pairs are fewer than a batch, and the pairs made could not yet carry
    verdict_max_votes votes (each pair collects votes_per_comparison)."""
    ending = candidacy.serving_id != active_checkpoint_id(session, campaign_id)
    if ending or not campaigns.is_active(session, campaign_id):
        return None  # what serves changed, or the campaign was archived: that candidacy is about to end
    candidate, serving = candidacy.checkpoint_id, candidacy.serving_id
    batch = len(active_prompts(session, for_eval=True, campaign_id=campaign_id))
    problem = _unusable(session, candidate) or _unusable(session, serving)
    evaluation = repo.evaluation_of(session, candidate, serving)
    if problem is None and batch == 0:
        problem = f"campaign {campaign_id} has no evaluation prompts (`dpoloop prompts add --eval --campaign NAME`)"
    if problem is None and evaluation is not None and evaluation.kind != EvaluationKind.promotion:
        problem = f"arena match evaluation {evaluation.id} already holds the pair"
    if problem:
        if ("candidacy", candidate, serving) not in _warned:  # once; the verdict or an admin decides
            _warned.add(("candidacy", candidate, serving))
            log.warning("no evaluation of candidate %s against %s: %s", candidate, serving, problem)
        return None
    made = evaluation.pairs if evaluation else 0
    if made * settings.votes_per_comparison >= settings.verdict_max_votes:
        return None  # enough pairs for the verdict's cap: the rest are votes, not images
    if evaluation is not None and repo.open_comparisons(session, evaluation.id) >= batch:
        return None  # labelers have a batch to vote on yet
    return made


def _promotion_due(session: Session) -> tuple[int, int, None] | None:
    """(what serves a campaign, the one it replaced) while that evaluation is missing and can be made on the
    campaign's evaluation prompts; default's first."""
    for campaign in campaigns.active_campaigns(session):
        active = active_checkpoint_id(session, campaign.id)  # read once: the pair must not be (W, W)
        baseline_id = repo.previous_checkpoint_id(session, active, campaign.id)
        if baseline_id is None or baseline_id == active or repo.evaluation_exists(session, active, baseline_id):
            continue
        if not active_prompts(session, for_eval=True, campaign_id=campaign.id):
            continue  # nothing to render it on: promoted in a campaign without an evaluation set
        problem = checkpoint_files_ok(session.get(Checkpoint, baseline_id))
        if problem:
            if ("promotion", active, baseline_id) not in _warned:  # once: every pool fill asks again
                _warned.add(("promotion", active, baseline_id))
                log.warning("no evaluation of checkpoint %s against %s: %s", active, baseline_id, problem)
            continue
        return active, baseline_id, None
    return None


def _match_due(session: Session) -> ArenaMatch | None:
    """The oldest arena match waiting for images; one whose checkpoint cannot load fails with the reason."""
    while (match := matches.due_match(session)) is not None:
        pair = (match.checkpoint_a_id, match.checkpoint_b_id)
        problem = next(filter(None, (_unusable(session, c) for c in pair)), None)
        if problem is None and not active_prompts(session, for_eval=True, campaign_id=lineage_campaign(session, *pair)):
            problem = "their campaign has no evaluation prompts"
        if problem is None:
            return match
        log.warning("arena match %s failed: %s", match.id, problem)
        matches.end_match(session, match.id, None, problem)
    return None


def _unusable(session: Session, checkpoint_id: int) -> str | None:
    checkpoint = session.get(Checkpoint, checkpoint_id)
    if checkpoint.status == CheckpointStatus.broken:
        return f"checkpoint {checkpoint_id} is broken: {checkpoint.status_reason}"
    problem = checkpoint_files_ok(checkpoint)
    return f"checkpoint {checkpoint_id} cannot be loaded: {problem}" if problem else None


def record(step: EvaluationStep) -> int | None:
    """Write the evaluation and its comparisons; None when another worker wrote it first, or the
    checkpoint a promotion's evaluation is for no longer serves (that promotion's is the one due now)."""
    with session_scope() as session:
        if step.match_id is not None:
            evaluation_id = repo.create_evaluation(session, step.checkpoint_id, step.baseline_id, step.requests,
                                                   step.new_images, step.old_images, EvaluationKind.match)  # fmt: skip
            # Two workers may finish one match: the second points it at the first one's evaluation.
            found = evaluation_id or repo.evaluation_between(session, step.checkpoint_id, step.baseline_id)
            matches.end_match(session, step.match_id, found)
        elif step.candidacy_id is not None:
            evaluation_id = repo.append_batch(session, step.checkpoint_id, step.baseline_id, step.pairs_before,
                                              step.requests, step.new_images, step.old_images)  # fmt: skip
            # Checked after the write, the candidacy row locked: a decision committed meanwhile wins.
            if evaluation_id is not None and not _still_judging(session, step):
                session.rollback()
                return None
        elif active_checkpoint_id(session, step.campaign_id) != step.checkpoint_id:
            return None
        else:
            evaluation_id = repo.create_evaluation(session, step.checkpoint_id, step.baseline_id, step.requests,
                                                   step.new_images, step.old_images)  # fmt: skip
    if evaluation_id is not None:
        log.info("evaluation %s: checkpoint %s vs %s, %d pairs (match %s, candidacy %s)", evaluation_id,
                 step.checkpoint_id, step.baseline_id, len(step.requests), step.match_id,
                 step.candidacy_id)  # fmt: skip
    return evaluation_id


def _still_judging(session: Session, step: EvaluationStep) -> bool:
    """Whether the step's candidacy is still judged against what serves its campaign."""
    return (repo.candidacy_judged_against(session, step.candidacy_id) == step.baseline_id
            == active_checkpoint_id(session, step.campaign_id))  # fmt: skip


def due_evaluation_written() -> bool:
    """Whether the serving checkpoint's evaluation against its predecessor exists."""
    with session_scope() as session:
        active = active_checkpoint_id(session)
        return repo.evaluation_exists(session, active, repo.previous_checkpoint_id(session, active) or 0)


def uncounted_voters(session: Session, settings: Settings) -> set[int]:
    """The labelers whose votes on evaluation and arena pairs count in no win rate, as of now."""
    return quality.uncounted(session, settings, repo.evaluation_voters(session))


def evaluations(
    checkpoint_id: int | None = None, settings: Settings | None = None
) -> list[tuple[Evaluation, EvaluationTally]]:
    """Every evaluation (or one checkpoint's), newest first, with its counted votes."""
    with session_scope() as session:
        rows = repo.list_evaluations(session, checkpoint_id)
        uncounted = uncounted_voters(session, settings or get_settings())
        tallies = repo.evaluation_tallies(session, [e.id for e in rows], uncounted)
        return [(e, tallies.get(e.id) or EvaluationTally()) for e in rows]


def judge_due() -> tuple[int, list[tuple[str, str, str]]] | None:
    """The next evaluation for the automatic judge: its id and (prompt, A's image, B's image) per pair."""
    with session_scope() as session:
        evaluation = repo.unjudged_evaluation(session)
        if evaluation is None:
            return None
        return evaluation.id, repo.evaluation_comparisons(session, evaluation.id)


def record_judge(evaluation_id: int, verdict: dict) -> None:
    with session_scope() as session:
        session.get(Evaluation, evaluation_id).judge_verdict = verdict
