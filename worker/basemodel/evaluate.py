"""How well the base model follows captions, judged by the scene scorer.

Held-out prompts name (colour, shape, size, position) combinations that training never showed,
plus a background; every prompt is drawn with several seeds. The spread report draws one
under-specified prompt with many seeds: later DPO rounds need seeds that really differ.
"""

from __future__ import annotations

import itertools
import random
import statistics
from dataclasses import dataclass, field

from core.schemas.generation import GenerationParams
from worker.basemodel.data import is_unseen_combination
from worker.generation.generator import Generator
from worker.scenes.score import read_scene, score_caption
from worker.scenes.world import ATTRIBUTES, BACKGROUNDS, COLOURS, POSITIONS, SHAPES, SIZES, Scene, caption_for

BARS = {"colour": 0.90, "shape": 0.70, "position": 0.80}


def unseen_combination_prompts(seed: int = 0) -> list[str]:
    """Captions of the combinations the base model never saw in training (its evaluation set)."""
    rng = random.Random(seed)
    prompts = []
    for colour, shape, size, position in itertools.product(COLOURS, SHAPES, SIZES, POSITIONS):
        scene = Scene(colour, shape, size, position, rng.choice(list(BACKGROUNDS)))
        if is_unseen_combination(scene):
            prompts.append(caption_for(scene))
    return prompts


@dataclass
class Accuracy:
    images: int = 0
    right: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ATTRIBUTES, 0))

    def rate(self, attribute: str) -> float:
        return self.right[attribute] / self.images if self.images else 0.0

    def as_dict(self) -> dict[str, float]:
        return {a: round(self.rate(a), 4) for a in ATTRIBUTES} | {"images": self.images}

    def passes(self) -> bool:
        return all(self.rate(a) >= bar for a, bar in BARS.items())


def caption_accuracy(
    generator: Generator, prompts: list[str], seeds: list[int], steps: int = 20, guidance: float = 4.0, batch: int = 16
) -> Accuracy:
    requests = [
        GenerationParams(prompt=p, seed=s, num_inference_steps=steps, guidance_scale=guidance)
        for p in prompts
        for s in seeds
    ]
    accuracy = Accuracy()
    for start in range(0, len(requests), batch):
        chunk = requests[start : start + batch]
        for request, result in zip(chunk, generator.generate(chunk), strict=True):
            scored = score_caption(result.image, request.prompt)
            accuracy.images += 1
            for attribute, ok in scored.correct.items():
                accuracy.right[attribute] += int(ok)
    return accuracy


def seed_spread(generator: Generator, prompt: str, seeds: int, guidance: float = 4.0) -> dict:
    """How much size and position vary across seeds for one prompt that leaves them free."""
    requests = [GenerationParams(prompt=prompt, seed=s, guidance_scale=guidance) for s in range(seeds)]
    readings = [read_scene(r.image) for r in generator.generate(requests)]
    found = [r for r in readings if r.found]
    if len(found) < 2:
        return {"prompt": prompt, "found": len(found)}
    return {
        "prompt": prompt,
        "found": len(found),
        "extent_mean": round(statistics.mean(r.extent for r in found), 3),
        "extent_sd": round(statistics.stdev(r.extent for r in found), 3),
        "centre_x_sd": round(statistics.stdev(r.centre_x for r in found), 3),
        "sizes": {s: sum(r.size == s for r in found) for s in SIZES},
        "positions": {p: sum(r.position == p for r in found) for p in POSITIONS},
    }


def quick_check(generator: Generator, count: int = 24) -> dict:
    """A cheap progress signal during training: a slice of held-out prompts, one seed each."""
    prompts = unseen_combination_prompts()[:count]
    return caption_accuracy(generator, prompts, seeds=[1000]).as_dict()
