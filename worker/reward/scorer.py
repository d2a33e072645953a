"""A campaign's preference model ready to score latents: one version's weights with the base model's prompt
encoder. Rounds load one for their reward pairs and gate rule; the pool's pairing keeps one per campaign in
each worker process, loaded once per version and again when a newer version has trained."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from core.db.models import DEFAULT_CAMPAIGN_ID
from core.services import reward
from core.settings import Settings
from core.storage import local_folder
from worker.reward.features import PromptFeatures, image_features
from worker.reward.model import PreferenceModel


class Scorer:
    def __init__(self, version: int, model: PreferenceModel, prompts: PromptFeatures):
        self.version, self.model, self.prompts = version, model, prompts

    @classmethod
    def load(cls, version: int, folder: Path, settings: Settings, prompts: PromptFeatures | None = None) -> Scorer:
        """A version from its folder (OSError, ValueError or RuntimeError when its files cannot be read)."""
        return cls(version, PreferenceModel.load(folder), prompts or PromptFeatures(settings.base_model))

    def scores(self, prompts: list[str], latents: list[np.ndarray] | np.ndarray) -> np.ndarray:
        """score(prompt, image) per candidate: differences are log-odds of a labeler preferring one."""
        return self.model.scores(image_features(np.stack(latents)), self.prompts(prompts))

    def margins(self, prompts: list[str], first: np.ndarray, second: np.ndarray) -> np.ndarray:
        """score(first) − score(second) per pair of latents: > 0 where the model prefers the first image."""
        return self.scores(prompts, first) - self.scores(prompts, second)


_lock = threading.Lock()
_loaded: dict[int, Scorer] = {}  # per campaign
_prompts: PromptFeatures | None = None  # every campaign's scorer shares one text encoder: the base model's


def current_scorer(settings: Settings, campaign_id: int = DEFAULT_CAMPAIGN_ID) -> Scorer | None:
    """The campaign's newest ready version's scorer (None before one has trained on its votes)."""
    global _prompts
    version = reward.current(campaign_id)
    if version is None:
        return None
    with _lock:
        loaded = _loaded.get(campaign_id)
        if loaded is None or loaded.version != version.id:
            loaded = Scorer.load(version.id, local_folder(settings, version.path), settings, _prompts)
            _loaded[campaign_id], _prompts = loaded, loaded.prompts
        return loaded
