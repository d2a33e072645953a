"""The gate's preference-model rule: the round's checkpoint against the one it started from, same prompts
(the campaign's evaluation prompts, never trained on) and same seeds, scored by the campaign's preference
model. Per pair 1 when it prefers the new image, 0 when the parent's (½ on an exact tie); the gate takes
a t-interval over the pairs (worker/rounds/gate.py). The parent is rendered before training."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from core.schemas.generation import GenerationParams
from core.services import prompts, reward
from core.settings import Settings
from core.storage import local_folder
from worker.generation.generator import Generator
from worker.reward.scorer import Scorer

SEED_BASE, BATCH = 8_000, 16
log = logging.getLogger(__name__)


@dataclass
class RewardGate:
    scorer: Scorer
    requests: list[GenerationParams]
    parent: np.ndarray | None = None  # the start checkpoint's latents, one per request

    @classmethod
    def open(cls, settings: Settings, campaign_id: int) -> RewardGate | None:
        """None without the campaign's preference model, evaluation prompts, or images to score (no rule then)."""
        version, texts = reward.current(campaign_id), prompts.evaluation_prompts(campaign_id)
        if version is None or not texts or settings.reward_gate_images <= 0:
            return None
        try:
            scorer = Scorer.load(version.id, local_folder(settings, version.path), settings)
        except (OSError, ValueError, RuntimeError) as exc:  # its files are gone or unreadable: no rule, not no round
            log.error("preference model v%s cannot be read (%s): the gate runs without its rule", version.id, exc)
            return None
        requests = [GenerationParams(prompt=texts[i % len(texts)], seed=SEED_BASE + i,
                                     num_inference_steps=settings.default_steps,
                                     guidance_scale=settings.default_guidance)
                    for i in range(settings.reward_gate_images)]  # fmt: skip
        return cls(scorer, requests)

    def render(self, generator: Generator) -> np.ndarray:
        made = [m for start in range(0, len(self.requests), BATCH)
                for m in generator.generate(self.requests[start : start + BATCH])]  # fmt: skip
        return np.stack([m.latents for m in made])

    def render_parent(self, generator: Generator) -> None:
        self.parent = self.render(generator)

    def measure(self, generator: Generator) -> dict:
        """The new checkpoint's win rate over its parent by the preference model, per pair and overall."""
        margins = self.scorer.margins([r.prompt for r in self.requests], self.render(generator), self.parent)
        wins = (margins > 0) + 0.5 * (margins == 0)
        return {"reward_win_rate": float(wins.mean()), "reward_win_rate_by_pair": wins.tolist(),
                "reward_version": self.scorer.version}  # fmt: skip
