"""The install's preference model in a worker process that scores often (the pool's pairing): loaded once
per version, and again when a newer version has trained."""

from __future__ import annotations

import threading

import numpy as np

from core.services import reward
from core.settings import Settings
from worker.reward.features import PromptFeatures, image_features
from worker.reward.model import PreferenceModel


class Scorer:
    def __init__(self, version: int, model: PreferenceModel, prompts: PromptFeatures):
        self.version, self.model, self.prompts = version, model, prompts

    def scores(self, prompts: list[str], latents: list[np.ndarray]) -> np.ndarray:
        """score(prompt, image) per candidate: differences are log-odds of a labeler preferring one."""
        return self.model.scores(image_features(np.stack(latents)), self.prompts(prompts))


_lock = threading.Lock()
_loaded: Scorer | None = None


def current_scorer(settings: Settings) -> Scorer | None:
    """The newest ready version's scorer (None before one has trained)."""
    global _loaded
    version = reward.current()
    if version is None:
        return None
    with _lock:
        if _loaded is None or _loaded.version != version.id:
            model = PreferenceModel.load(settings.data_dir / version.path)
            prompts = _loaded.prompts if _loaded is not None else PromptFeatures(settings.base_model)
            _loaded = Scorer(version.id, model, prompts)
        return _loaded
