"""The automatic judge of the embedded scenes model: prompt-following on a fixed evaluation set.

Fixed prompts (the base model's held-out combinations) and fixed seeds, so two checkpoints are
judged on exactly the same requests. Other model families have no judge: the gate skips it.
"""

from __future__ import annotations

from app.schemas.generation import GenerationParams
from worker.basemodel.evaluate import held_out_prompts
from worker.generation.generator import Generator
from worker.scenes.score import score_caption

JUDGE_STEPS, JUDGE_GUIDANCE, BATCH = 20, 4.0, 16


def evaluation_set(images: int) -> list[GenerationParams]:
    prompts = held_out_prompts()
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
