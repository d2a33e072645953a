"""The preference model itself (worker/reward/): it learns a prompt-conditioned preference from votes and
reads back from its files exactly as it was."""

import numpy as np
import pytest

from core.paths import EMBEDDED_MODEL_DIR as EMBEDDED_MODEL
from tests.helpers.reward import square_latents
from worker.reward.features import PromptFeatures, image_features
from worker.reward.fit import FeaturePairs, accuracy, fit
from worker.reward.model import PreferenceModel

PROMPTS = {"a big red square": 1, "a tiny red square": -1}  # what people asked for: larger or smaller


def votes(prompts: PromptFeatures, count: int, seed: int) -> FeaturePairs:
    """Pairs voted by people who give the prompt what it asks: the larger square for "big", the smaller for "tiny"."""
    rng = np.random.default_rng(seed)
    winners, losers, asked = [], [], []
    for i in range(count):
        prompt = list(PROMPTS)[i % 2]
        small, large = sorted(rng.choice(np.arange(2, 13), 2, replace=False))
        images = square_latents(rng, int(large)), square_latents(rng, int(small))
        winner, loser = images if PROMPTS[prompt] > 0 else images[::-1]
        winners.append(winner)
        losers.append(loser)
        asked.append(prompt)
    return FeaturePairs(image_features(np.stack(winners)), image_features(np.stack(losers)), prompts(asked))


@pytest.fixture(scope="module")
def prompts():
    return PromptFeatures(EMBEDDED_MODEL)


def test_the_model_learns_a_prompt_conditioned_preference_from_votes(prompts):
    train, held_out = votes(prompts, 300, seed=0), votes(prompts, 100, seed=1)
    model = fit(train)
    assert accuracy(model, held_out) >= 0.85
    # The same images under the other prompt: the preference turns round, so the prompt is what it learnt.
    swapped = FeaturePairs(held_out.winner, held_out.loser, held_out.prompt[::-1].copy())
    assert accuracy(model, swapped) <= 0.15
    # Chance, for contrast: votes that ignore the images teach it nothing it can carry to new pairs.
    shuffled = votes(prompts, 300, seed=2)
    flip = np.random.default_rng(3).random(300) < 0.5
    noise = FeaturePairs(np.where(flip[:, None], shuffled.loser, shuffled.winner),
                         np.where(flip[:, None], shuffled.winner, shuffled.loser), shuffled.prompt)  # fmt: skip
    assert 0.3 <= accuracy(fit(noise), held_out) <= 0.7


def test_a_saved_model_scores_as_it_did(prompts, tmp_path):
    pairs = votes(prompts, 40, seed=4)
    model = fit(pairs)
    model.save(tmp_path)
    loaded = PreferenceModel.load(tmp_path)
    assert np.allclose(loaded.margins(pairs.winner, pairs.loser, pairs.prompt),
                       model.margins(pairs.winner, pairs.loser, pairs.prompt), atol=1e-6)  # fmt: skip
