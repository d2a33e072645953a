"""One version of the preference model on the train worker: the votes (core/services/reward.py) → latents
and prompt features → fit → measured on held-out votes beside its ceilings → files written atomically."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

import numpy as np
from PIL import Image

from core.preferences import PreferencePair
from core.services import reward
from core.settings import Settings
from core.storage import latents_file, media_file
from worker.checkpoint_io import publish_folder
from worker.reward.features import NAME, PromptFeatures, image_features
from worker.reward.fit import FeaturePairs, FitSettings, accuracy, fit

log = logging.getLogger(__name__)
MIN_TRAIN_PAIRS = 8  # below this a fit says nothing, and a version would only replace a better one


def feature_pairs(pairs: list[PreferencePair], settings: Settings, prompts: PromptFeatures) -> tuple[FeaturePairs, int]:
    """The pairs whose latents are readable, as features; and how many were not."""
    kept, winners, losers = [], [], []
    for pair in pairs:
        try:  # features per image: pairs of different sizes (an import, a size change) fit one model
            winner = image_features(np.load(latents_file(settings, pair.winner_latents))[None])
            loser = image_features(np.load(latents_file(settings, pair.loser_latents))[None])
        except (OSError, ValueError):  # a lost or unreadable file costs one pair
            continue
        kept.append(pair)
        winners.append(winner)
        losers.append(loser)
    if not kept:
        return FeaturePairs(np.zeros((0, 0)), np.zeros((0, 0)), np.zeros((0, 0))), len(pairs)
    return (FeaturePairs(np.concatenate(winners), np.concatenate(losers), prompts([p.prompt for p in kept])),
            len(pairs) - len(kept))  # fmt: skip


def judge_accuracy(pairs: list[PreferencePair], images: dict[str, str], settings: Settings) -> dict:
    """The configured judge on the same held-out votes: the share of pairs whose winner it scores higher."""
    from worker.judges.registry import cached_judge, configured_judge

    spec = configured_judge(settings.gate_judge, settings.base_model)
    if spec is None:
        return {"judge": None, "accuracy": None, "pairs": 0}
    try:
        judge = cached_judge(spec)
        right = counted = 0
        for pair in pairs:
            files = images.get(pair.winner_latents), images.get(pair.loser_latents)
            if None in files:
                continue
            opened = [Image.open(media_file(settings, f)).convert("RGB") for f in files]
            winner, loser = judge.score([pair.prompt] * 2, opened)
            right += (winner > loser) + 0.5 * (winner == loser)
            counted += 1
    except Exception as exc:  # a ceiling that cannot be measured must not discard a model that trained
        return {"judge": spec, "accuracy": None, "pairs": 0, "error": f"{type(exc).__name__}: {exc}"}
    return {"judge": spec, "accuracy": right / counted if counted else None, "pairs": counted}


def train_version(model_id: int, settings: Settings, fit_settings: FitSettings | None = None) -> str | None:
    """Train version `model_id` and record it; its state afterwards (None: not this worker's to train)."""
    fit_settings = fit_settings or FitSettings()
    job = reward.claim(model_id, settings)
    if job is None:
        return None
    try:
        return _train(job, settings, fit_settings)
    except Exception as exc:  # the version fails; the last ready one stays its campaign's model
        log.exception("preference model version %s failed", model_id)
        reward.fail(model_id, f"{type(exc).__name__}: {exc}")
        return "failed"


def _train(job: reward.RewardJob, settings: Settings, fit_settings: FitSettings) -> str:
    started = time.monotonic()
    prompts = PromptFeatures(settings.base_model)
    train, missing_train = feature_pairs(job.train, settings, prompts)
    held, missing_held = feature_pairs(job.held_out, settings, prompts)
    if len(train) < MIN_TRAIN_PAIRS:
        reward.fail(job.model_id, f"{len(train)} training pairs; at least {MIN_TRAIN_PAIRS} decisive voted pairs "
                                  "are needed (a pair needs a majority of decisive votes of people)")  # fmt: skip
        return "failed"
    features_s = time.monotonic() - started
    model = fit(train, fit_settings)
    fit_s = time.monotonic() - started - features_s
    held_acc = accuracy(model, held)
    ceilings = {"labelers_agree": job.agreement, "judge": judge_accuracy(job.held_out, job.held_out_images, settings)}
    name = f"v{job.model_id:04d}"
    card = {
        "version": job.model_id, "campaign_id": job.campaign_id, "features": NAME,
        "trained_at": datetime.now(UTC).isoformat(), "snapshot_vote_id": job.snapshot_vote_id, "votes": job.counts,
        "train_pairs": len(train), "held_out_pairs": len(held), "missing_latents": missing_train + missing_held,
        "train_accuracy": accuracy(model, train), "held_out_accuracy": held_acc, "ceilings": ceilings,
        "fit": vars(fit_settings) | {"image_dim": train.winner.shape[1], "prompt_dim": train.prompt.shape[1]},
        "seconds": {"features": round(features_s, 2), "fit": round(fit_s, 2),
                    "total": round(time.monotonic() - started, 2)},
    }  # fmt: skip
    key = publish_folder(settings, f"reward/{name}", model.save, card)
    decisive = job.counts.get("votes_left", 0) + job.counts.get("votes_right", 0)
    reward.finish(job.model_id, key, {
        "votes": decisive, "train_pairs": len(train), "held_out_pairs": len(held), "held_out_accuracy": held_acc,
        "ceilings": ceilings, "card": card,
    })  # fmt: skip
    log.info("preference model %s: held-out accuracy %s on %d pairs", name, held_acc, len(held))
    return "ready"
