"""A round's reward pairs (config source "reward"): fresh pairs of the start checkpoint, before it trains,
labelled by the campaign's preference model. This is where one human vote counts many times: the model
learnt the labelers from their votes, and it judges pairs no labeler will see.

On-policy, as the pool's pairs are: two seeds of one pool prompt, the generation defaults, the weights
the round starts from. Only pairs the model is sure of are kept (P(winner ≻ loser) ≥ reward_confidence);
at most RENDER_FACTOR × reward_pairs pairs are rendered to find them. What was rendered, kept and used
goes to the round's counts.
"""

from __future__ import annotations

import random
import time

import numpy as np

from core.schemas.generation import GenerationParams
from core.services import reward, rounds
from core.services.rounds import RoundClaim
from core.settings import Settings
from core.storage import local_folder
from worker.dpo.trainer import TrainingPair
from worker.reward.scorer import Scorer
from worker.rounds.data import RoundData
from worker.rounds.model import RoundModel

RENDER_FACTOR = 4
BATCH_PAIRS = 8
SEED_BASE = 500_000_000  # away from the pool's seeds, which count up from small numbers


def add_reward_pairs(claim: RoundClaim, model: RoundModel, data: RoundData, settings: Settings) -> dict:
    """Append the reward pairs to the round's training pairs; returns what the counts record."""
    config = claim.config
    version = reward.current(claim.campaign_id)
    prompts = reward.round_prompts(claim.campaign_id)
    report = {"asked": config.reward_pairs, "confidence": config.reward_confidence, "rendered": 0, "used": 0,
              "version": version.id if version else None}  # fmt: skip
    if version is None or not prompts:  # the model was there at start_round; a deleted one is no reason to fail
        report["reason"] = "no preference model" if version is None else "no active prompts"
        return _record(claim, data, report)
    scorer = Scorer.load(version.id, local_folder(settings, version.path), settings)
    generator = model.generator()
    rng = random.Random(config.seed)
    threshold = float(np.log(config.reward_confidence / (1 - config.reward_confidence)))  # the margin's logit
    started, kept = time.perf_counter(), []
    while len(kept) < config.reward_pairs and report["rendered"] < RENDER_FACTOR * config.reward_pairs:
        chosen = [rng.choice(prompts) for _ in range(BATCH_PAIRS)]
        seed = SEED_BASE + 2 * report["rendered"]
        requests = [GenerationParams(prompt=p, seed=seed + 2 * i + side, num_inference_steps=settings.default_steps,
                                     guidance_scale=settings.default_guidance)
                    for i, p in enumerate(chosen) for side in (0, 1)]  # fmt: skip
        made = generator.generate(requests)
        first, second = np.stack([m.latents for m in made[0::2]]), np.stack([m.latents for m in made[1::2]])
        margins = scorer.margins(chosen, first, second)
        for i, margin in enumerate(margins):
            if abs(margin) >= threshold and len(kept) < config.reward_pairs:
                winner, loser = (first[i], second[i]) if margin > 0 else (second[i], first[i])
                kept.append(TrainingPair(prompt=chosen[i], winner=winner, loser=loser))
        report["rendered"] += len(chosen)
    data.train.extend(kept)
    report |= {"used": len(kept), "train_pairs_total": len(data.train),
               "seconds": round(time.perf_counter() - started, 1)}  # fmt: skip
    return _record(claim, data, report)


def _record(claim: RoundClaim, data: RoundData, report: dict) -> dict:
    data.counts = data.counts | {"reward_pairs": report}
    rounds.record_counts(claim, data.counts)
    return report
