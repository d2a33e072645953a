"""The embedded model's judge: the scene scorer reads colour, shape, position and background off the
image and scores the share of the caption's attributes it shows (1.0 = all of them)."""

from __future__ import annotations

from PIL import Image

from worker.scenes.score import score_caption


class ScenesJudge:
    name = "scenes"

    def score(self, prompts: list[str], images: list[Image.Image]) -> list[float]:
        scores = []
        for prompt, image in zip(prompts, images, strict=True):
            try:
                scores.append(score_caption(image, prompt).score)
            except ValueError:  # not a scene caption: there is nothing it could follow
                scores.append(0.0)
        return scores
