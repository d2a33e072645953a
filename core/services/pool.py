"""The pool of train comparisons: what a generate worker should render next, and recording it.

Each pair is one prompt drawn with different seeds, rendered by the checkpoint that serves: the
data Diffusion-DPO learns from. With DPOLOOP_PAIRING=random it is two seeds; with diverse or uncertain,
the worker renders DPOLOOP_PAIRING_CANDIDATES seeds in the same batch and shows the two that lie
farthest apart, or whose outcome the served checkpoint can least predict (worker/pairing.py); the
comparison records which strategy chose it. With DPOLOOP_PAIRING_REUSE the candidates an earlier pair
of the prompt left unshown are offered again (for the same checkpoint, while their files are young),
so only the rest are rendered. Unshown candidates keep their files until
retention reclaims them. Prompts are drawn least-used first so the pool covers the prompt set
evenly. An empty pool gets one pair first, fast, so labelers wait as little as possible.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.db.models import DEFAULT_CAMPAIGN_ID, Campaign, Comparison, Generation, Prompt
from core.db.session import session_scope
from core.refs import CheckpointRef
from core.repo import generations as generations_repo
from core.repo import gold as gold_repo
from core.repo import reward_models
from core.repo.checkpoints import UnusableCheckpoint, active_checkpoint_id, checkpoint_ref
from core.repo.comparisons import ready_pool_count
from core.repo.generations import StartedGeneration
from core.repo.prompts import active_prompts
from core.schemas.generation import MAX_SEED, GenerationParams
from core.services import campaigns
from core.settings import Settings
from core.states import CheckpointKind, ComparisonKind, ComparisonState, GenerationPurpose, GoldAnswer


@dataclass(frozen=True)
class PlannedComparison:
    prompt_id: int
    prompt: str
    params: tuple[GenerationParams, ...]  # two, or the candidates the pairing strategy picks two of
    generations: tuple[StartedGeneration, ...]
    gold_answer: GoldAnswer | None = None  # a gold pair: its known answer
    pairing: str | None = None  # train pairs: the strategy that picks the two shown
    spares: tuple[StartedGeneration, ...] = ()  # candidates rendered for an earlier pair, not shown: no render

    @property
    def candidates(self) -> tuple[StartedGeneration, ...]:
        """Every image the strategy picks two of: the spares, then the new renders."""
        return self.spares + self.generations


@dataclass(frozen=True)
class PoolBatch:
    checkpoint: CheckpointRef  # the comparisons' checkpoint: the images must be made with exactly it
    comparisons: list[PlannedComparison]
    campaign_id: int = DEFAULT_CAMPAIGN_ID  # whose pool they fill

    @property
    def requests(self) -> list[GenerationParams]:
        return [params for planned in self.comparisons for params in planned.params]

    @property
    def generations(self) -> list[StartedGeneration]:
        return [g for planned in self.comparisons for g in planned.generations]


def least_used_prompts(session: Session, checkpoint_id: int, count: int,
                       campaign_id: int = DEFAULT_CAMPAIGN_ID) -> list[Prompt]:  # fmt: skip
    prompts = active_prompts(session, campaign_id=campaign_id)
    if not prompts:
        return []
    used = dict(
        session.execute(
            select(Comparison.prompt_id, func.count(Comparison.id))
            .where(Comparison.checkpoint_id == checkpoint_id, Comparison.kind == ComparisonKind.train,
                   Comparison.campaign_id == campaign_id)  # fmt: skip
            .group_by(Comparison.prompt_id)
        ).all()
    )
    rng = random.Random()
    ranked = sorted(prompts, key=lambda p: (used.get(p.id, 0), rng.random()))
    return [ranked[i % len(ranked)] for i in range(count)]


def distinct_seeds(count: int, taken: set[int] = frozenset()) -> list[int]:
    """count different seeds, none of them taken: two images of one prompt and seed would be the same image."""
    seeds: list[int] = []
    while len(seeds) < count:
        seed = secrets.randbelow(MAX_SEED)
        if seed not in seeds and seed not in taken:
            seeds.append(seed)
    return seeds


SPARE_LEASE = timedelta(minutes=10)  # a claim older than this (its worker died mid-batch) lapses


def _spares(session: Session, settings: Settings, checkpoint_id: int, prompt_id: int,
            count: int) -> tuple[StartedGeneration, ...]:  # fmt: skip
    """Up to count unshown candidates of this prompt to choose from again (DPOLOOP_PAIRING_REUSE),
    claimed for this pair (no other pair is offered them until it is recorded); they are younger
    than half the retention that reclaims them."""
    if not settings.pairing_reuse or count <= 0:
        return ()
    now = datetime.now(UTC)
    since = now - timedelta(hours=settings.retention_candidate_hours / 2)
    rows = generations_repo.claim_spares(session, checkpoint_id, prompt_id, since, count, now, now - SPARE_LEASE)
    return tuple(StartedGeneration(row.id, row.image_path, row.latents_path) for row in rows)


def _lacking(session: Session, settings: Settings) -> list[tuple[int, int, int]]:
    """(campaign id, its serving checkpoint id, ready pairs) of the pools below DPOLOOP_POOL_TARGET, furthest
    below first: the default campaign's, and those of other active campaigns with prompts and someone to
    label them."""
    lacking = []
    for campaign in campaigns.active_campaigns(session):
        default = campaign.id == DEFAULT_CAMPAIGN_ID
        if not default and not campaigns.labeled(session, campaign):
            continue
        serving = active_checkpoint_id(session, campaign.id)
        ready = ready_pool_count(session, serving, campaign.id)
        if ready < settings.pool_target:
            no_prompts = not active_prompts(session, campaign_id=campaign.id)
            if no_prompts and not default:
                continue
            lacking.append((no_prompts, ready - settings.pool_target, campaign.id, serving, ready))
    # A default campaign without prompts comes last: its empty batch says so, but must not starve the others.
    return [found[2:] for found in sorted(lacking)]


def _usable(session: Session, settings: Settings) -> tuple[CheckpointRef, int, int] | None:
    """(serving checkpoint, campaign id, ready pairs) of the pool to fill next. Another campaign whose
    checkpoint cannot serve (broken, its rollback on the way) waits; default's raises UnusableCheckpoint."""
    for campaign_id, serving, ready in _lacking(session, settings):
        try:
            return checkpoint_ref(session, serving), campaign_id, ready
        except UnusableCheckpoint:
            if campaign_id == DEFAULT_CAMPAIGN_ID:
                raise
    return None


def plan_batch(settings: Settings) -> PoolBatch | None:
    """The next batch for the campaign whose pool lacks most, from its serving checkpoint, its generation
    rows marked running; None when every pool is full (a batch without pairs: there are no active
    prompts). UnusableCheckpoint while a broken checkpoint still serves."""
    with session_scope() as session:
        found = _usable(session, settings)
        if found is None:
            return None
        checkpoint, campaign_id, ready = found
        size = 1 if ready == 0 else min(settings.pool_target - ready, settings.pool_batch)
        candidates = 2 if settings.pairing == "random" else settings.pairing_candidates
        # uncertain ranks by the reward a DPO checkpoint learned: while the base serves there is none;
        # reward ranks by the campaign's preference model: none until one has trained on its votes.
        no_reward = (settings.pairing == "uncertain" and checkpoint.kind == CheckpointKind.base) or (
            settings.pairing == "reward" and reward_models.newest_ready(session, campaign_id) is None)
        pairing = "diverse" if no_reward else settings.pairing
        planned = []
        for prompt in least_used_prompts(session, checkpoint.id, size, campaign_id):
            shown_by, wanted = pairing, candidates
            if pairing == "reward" and random.random() < settings.pairing_random_share:
                # A share the model does not choose (it must not learn only its own doubts): two fresh seeds,
                # as random pairing draws them, no spares (those are what earlier choices left unshown).
                shown_by, wanted = "random", 2
            # Two new images at least, so every pair shows something not seen before it was rendered.
            spares = _spares(session, settings, checkpoint.id, prompt.id, wanted - 2)
            spare_seeds = {session.get(Generation, spare.id).seed for spare in spares}
            seeds = distinct_seeds(wanted - len(spares), spare_seeds)
            params = tuple(
                GenerationParams(prompt=prompt.text, seed=seed, num_inference_steps=settings.default_steps,
                                 guidance_scale=settings.default_guidance)
                for seed in seeds
            )  # fmt: skip
            rows = [generations_repo.create_generation(session, p, purpose=GenerationPurpose.pool, prompt_id=prompt.id)
                    for p in params]  # fmt: skip
            started = tuple(generations_repo.start(row) for row in rows)
            planned.append(PlannedComparison(prompt.id, prompt.text, params, started, pairing=shown_by, spares=spares))
        return PoolBatch(checkpoint, planned, campaign_id)  # none: there are no active prompts


def record_batch(batch: PoolBatch, per_image_ms: float, shown: list[tuple[int, int]] | None = None) -> int:
    """The batch's images are on disk: mark them done and put their comparisons in the pool. shown:
    per pair, the two of its candidates (spares first) the pairing strategy picked (default: the first two)."""
    with session_scope() as session:
        for index, planned in enumerate(batch.comparisons):
            for started in planned.generations:
                generations_repo.mark_done(session.get(Generation, started.id), batch.checkpoint.id, per_image_ms)
            i, j = shown[index] if shown else (0, 1)
            count = len(planned.candidates)
            if i == j or not (0 <= i < count and 0 <= j < count):
                raise ValueError(f"a comparison shows two different candidates of {count}, not {i} and {j}")
            a, b = planned.candidates[i], planned.candidates[j]
            generations_repo.release_spares(session, [g.id for g in planned.spares if g not in (a, b)])
            kind = ComparisonKind.gold if planned.gold_answer else ComparisonKind.train
            session.add(Comparison(prompt_id=planned.prompt_id, prompt=planned.prompt, generation_a_id=a.id,
                                   generation_b_id=b.id, kind=kind, state=ComparisonState.ready,
                                   checkpoint_id=batch.checkpoint.id, gold_answer=planned.gold_answer,
                                   pairing=planned.pairing, campaign_id=batch.campaign_id))  # fmt: skip
    return len(batch.comparisons)


# ---- gold pairs ------------------------------------------------------------------------------
# The damage: the same seed rendered with a prompt that shares the fewest words with the caption
# shown (for scene captions: another colour, shape, place and background), so the image does not
# show what the caption asks for. People judge that the same way whatever their taste; fewer
# sampler steps was tried and rejected: on the embedded model two steps already look nearly right.


def _words(text: str) -> set[str]:
    return set(text.lower().split())


def _least_alike(prompt: Prompt, others: list[Prompt], rng: random.Random, avoid: set[int]) -> Prompt | None:
    candidates = [p for p in others if p.id != prompt.id and p.id not in avoid]
    if not candidates:
        return None
    words = _words(prompt.text)
    overlap = {p.id: len(words & _words(p.text)) / max(1, len(words | _words(p.text))) for p in candidates}
    fewest = min(overlap.values())
    return rng.choice([p for p in candidates if overlap[p.id] == fewest])


def plan_next(settings: Settings) -> PoolBatch | None:
    """What the generate worker renders next: gold pairs first while their stock is below half its
    target (labelers who vote faster than the pool fills must still meet some), then train pairs,
    then gold pairs up to their target."""
    return plan_gold(settings, low_only=True) or plan_batch(settings) or plan_gold(settings)


def plan_gold(settings: Settings, low_only: bool = False, rng: random.Random | None = None) -> PoolBatch | None:
    """Gold pairs for the first campaign (default first, then those with labelers) whose serving checkpoint
    has fewer than gold_pool_target ready ones left to answer for one of its active labelers (with
    low_only: fewer than half): the caption's image against a damaged one (answer: A), or two damaged
    ones (answer: both bad), on the campaign's own prompts. A labeler never sees a pair twice, so a fixed
    stock would run dry for whoever answered it all; pairs every active labeler has answered leave the
    pool first, so it does not grow with the checkpoint's age. UnusableCheckpoint while a broken
    checkpoint serves default; another campaign's waits."""
    if settings.gold_rate <= 0 or settings.gold_pool_target <= 0:
        return None
    rng = rng or random.Random()
    since = datetime.now(UTC) - timedelta(seconds=settings.gold_active_window_s)
    with session_scope() as session:
        for campaign in campaigns.active_campaigns(session):
            default = campaign.id == DEFAULT_CAMPAIGN_ID
            if not default and not campaigns.labeled(session, campaign):
                continue
            try:
                checkpoint = checkpoint_ref(session, active_checkpoint_id(session, campaign.id))
            except UnusableCheckpoint:
                if default:
                    raise
                continue
            planned = _gold_pairs(session, settings, checkpoint.id, campaign, since, low_only, rng)
            if planned:
                return PoolBatch(checkpoint, planned, campaign.id)
    return None


def _gold_pairs(session: Session, settings: Settings, checkpoint_id: int, campaign: Campaign, since: datetime,
                low_only: bool, rng: random.Random) -> list[PlannedComparison]:  # fmt: skip
    """The gold pairs this campaign's labelers lack (none while they have enough, or it has under 3 prompts)."""
    labelers = gold_repo.active_labelers(session, since, campaign)
    gold_repo.retire_answered_gold(session, checkpoint_id, campaign.id, labelers)
    stock = gold_repo.gold_stock(session, checkpoint_id, campaign.id, labelers)
    missing = settings.gold_pool_target - stock
    prompts = active_prompts(session, campaign_id=campaign.id)
    if missing <= 0 or len(prompts) < 3 or (low_only and stock >= settings.gold_pool_target / 2):
        return []
    planned = []
    for _ in range(min(missing, settings.pool_batch)):
        prompt = rng.choice(prompts)
        wrong = _least_alike(prompt, prompts, rng, set())
        both_bad = rng.random() < settings.gold_both_bad_share
        first = _least_alike(prompt, prompts, rng, {wrong.id}) if both_bad else prompt
        seed = secrets.randbelow(MAX_SEED)
        params = tuple(GenerationParams(prompt=p.text, seed=seed, num_inference_steps=settings.default_steps,
                                        guidance_scale=settings.default_guidance)
                       for p in (first, wrong))  # fmt: skip
        rows = [generations_repo.create_generation(session, p, purpose=GenerationPurpose.pool) for p in params]
        started = tuple(generations_repo.start(row) for row in rows)
        answer = GoldAnswer.both_bad if both_bad else GoldAnswer.a
        planned.append(PlannedComparison(prompt.id, prompt.text, params, started, answer))
    return planned
