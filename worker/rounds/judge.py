"""The automatic judge of the embedded scenes model: prompt-following on a fixed evaluation set.

Fixed prompts (the caption combinations the base model never saw) and fixed seeds, so two
checkpoints are judged on exactly the same requests. Families without a judge skip it (and the
gate skips its rule).
"""

from __future__ import annotations

from core.schemas.generation import GenerationParams
from core.services import checkpoints
from core.services.rounds import RoundClaim
from core.settings import Settings
from core.states import BASE_CHECKPOINT_ID
from worker.basemodel.evaluate import unseen_combination_prompts
from worker.generation.generator import Generator
from worker.rounds.model import RoundModel
from worker.scenes.score import score_caption

JUDGE_STEPS, JUDGE_GUIDANCE, BATCH = 20, 4.0, 16


def evaluation_set(images: int) -> list[GenerationParams]:
    prompts = unseen_combination_prompts()
    return [GenerationParams(prompt=prompts[i % len(prompts)], seed=7_000 + i, num_inference_steps=JUDGE_STEPS,
                             guidance_scale=JUDGE_GUIDANCE) for i in range(images)]  # fmt: skip


def judge_score(generator: Generator, images: int) -> float:
    """Mean share of each caption's attributes that the image shows (1.0 = every attribute right)."""
    requests = evaluation_set(images)
    total = 0.0
    for start in range(0, len(requests), BATCH):
        batch = requests[start : start + BATCH]
        for request, result in zip(batch, generator.generate(batch), strict=True):
            total += score_caption(result.image, request.prompt).score
    return total / len(requests)


def judged(model: RoundModel, settings: Settings) -> bool:
    return model.family.has_judge and settings.gate_eval_images > 0


def judge_before_training(claim: RoundClaim, model: RoundModel, settings: Settings) -> dict:
    """The bar the gate's judge rule measures from: the start checkpoint's score (from its registry
    row when measured on the same set; else measured now, before training, and recorded) and the
    base's where known."""
    if not judged(model, settings):
        return {}
    images = settings.gate_eval_images
    parent = checkpoints.cached_judge_score(claim.start.id, images)
    if parent is None:
        parent = judge_score(model.generator(), images)
        checkpoints.record_judge_score(claim.start.id, parent, images)
    metrics = {"judge_score_parent": parent}
    base = checkpoints.cached_judge_score(BASE_CHECKPOINT_ID, images)
    if base is not None:
        metrics["judge_score_base"] = base
    return metrics


def judge_after_training(model: RoundModel, settings: Settings) -> dict:
    if not judged(model, settings):
        return {}
    return {"judge_score": judge_score(model.generator(), settings.gate_eval_images),
            "judge_images": settings.gate_eval_images}  # fmt: skip
