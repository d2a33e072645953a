"""The gate's automatic judge: a checkpoint's mean judge score on a fixed evaluation set.

Fixed prompts and fixed seeds, so two checkpoints are judged on exactly the same requests. The
embedded model is judged by its scene scorer on the caption combinations it never saw; any model
by the judge DPOLOOP_GATE_JUDGE names (clip:DIR, pickscore:DIR with local weights) on the round's
campaign's evaluation prompts. Without a judge the gate skips its rule.
"""

from __future__ import annotations

import logging

from core.schemas.generation import GenerationParams
from core.services import checkpoints, prompts
from core.services.rounds import RoundClaim
from core.settings import Settings
from core.states import BASE_CHECKPOINT_ID, DEFAULT_CAMPAIGN_ID
from worker.basemodel.evaluate import unseen_combination_prompts
from worker.generation.generator import Generator
from worker.judges.registry import cached_judge
from worker.rounds.model import RoundModel

log = logging.getLogger(__name__)

JUDGE_STEPS, JUDGE_GUIDANCE, BATCH = 20, 4.0, 16


def judge_spec(model: RoundModel, settings: Settings) -> str | None:
    if settings.gate_eval_images <= 0:
        return None
    if settings.gate_judge:
        return settings.gate_judge
    return "scenes" if model.family.has_judge else None


def judged(model: RoundModel, settings: Settings) -> bool:
    return judge_spec(model, settings) is not None


def round_judge(claim: RoundClaim, model: RoundModel, settings: Settings) -> str | None:
    """The round's judge: none for a judge that reads evaluation prompts when the round's campaign has
    none (the gate then skips the judge rule, and the log says why)."""
    spec = judge_spec(model, settings)
    if spec is None or spec == "scenes" or prompts.evaluation_prompts(claim.campaign_id):
        return spec
    log.warning("round %s: campaign %s has no evaluation prompts for the judge %s; the gate skips its rule",
                claim.round_id, claim.campaign_id, spec)  # fmt: skip
    return None


def set_key(spec: str, campaign_id: int) -> str:
    """What a judge score was measured with, as checkpoints' rows record it: the judge, and for one that
    reads evaluation prompts outside default, whose (the base's score differs per campaign's set)."""
    return spec if spec == "scenes" or campaign_id == DEFAULT_CAMPAIGN_ID else f"{spec}@campaign:{campaign_id}"


def evaluation_set(images: int, spec: str = "scenes", campaign_id: int = DEFAULT_CAMPAIGN_ID) -> list[GenerationParams]:
    texts = unseen_combination_prompts() if spec == "scenes" else prompts.evaluation_prompts(campaign_id)
    if not texts:
        raise ValueError("the judge needs evaluation prompts: mark some with `dpoloop prompts add --eval`")
    return [GenerationParams(prompt=texts[i % len(texts)], seed=7_000 + i, num_inference_steps=JUDGE_STEPS,
                             guidance_scale=JUDGE_GUIDANCE) for i in range(images)]  # fmt: skip


def judge_score(generator: Generator, images: int, spec: str = "scenes", campaign_id: int = DEFAULT_CAMPAIGN_ID
                ) -> float:  # fmt: skip
    """The judge's mean score over the campaign's evaluation set (for scenes: the share of each caption's
    attributes the image shows, 1.0 = every attribute right)."""
    judge, requests = cached_judge(spec), evaluation_set(images, spec, campaign_id)
    total = 0.0
    for start in range(0, len(requests), BATCH):
        batch = requests[start : start + BATCH]
        made = generator.generate(batch)
        total += sum(judge.score([r.prompt for r in batch], [m.image for m in made]))
    return total / len(requests)


def judge_before_training(claim: RoundClaim, model: RoundModel, settings: Settings, spec: str | None) -> dict:
    """The bar the gate's judge rule measures from, by the round's judge `spec` (round_judge): the start
    checkpoint's score (from its registry row when the same judge measured it on the same set; else
    measured now, before training, and recorded) and the base's where known."""
    if spec is None:
        return {}
    images, key = settings.gate_eval_images, set_key(spec, claim.campaign_id)
    parent = checkpoints.cached_judge_score(claim.start.id, images, key)
    if parent is None:
        parent = judge_score(model.generator(), images, spec, claim.campaign_id)
        checkpoints.record_judge_score(claim.start.id, parent, images, key)
    metrics = {"judge_score_parent": parent, "judge": key}
    base = checkpoints.cached_judge_score(BASE_CHECKPOINT_ID, images, key)
    if base is not None:
        metrics["judge_score_base"] = base
    return metrics


def judge_after_training(claim: RoundClaim, model: RoundModel, settings: Settings, spec: str | None) -> dict:
    if spec is None:
        return {}
    return {"judge_score": judge_score(model.generator(), settings.gate_eval_images, spec, claim.campaign_id),
            "judge_images": settings.gate_eval_images, "judge": set_key(spec, claim.campaign_id)}  # fmt: skip
