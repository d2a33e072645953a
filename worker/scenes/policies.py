"""Automatic labelers: a preference between two scene images, computed by the scene scorer.

They stand in for people in tests and benchmarks (the paper's AI-feedback setting) and judge the
loop's result. Each policy maps an image to a number it wants higher; a difference smaller than
the policy's margin is a tie, an image with no readable object loses, two such images are both bad.
Like a person, a policy first asks whether each image shows its caption: one that shows far less
of it loses whatever the taste, and two that both miss it are both bad (this is what gold pairs test).
No torch here: the CLI and the benchmarks import this in light processes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image

from worker.scenes.score import SceneReading, read_scene, score_caption


@dataclass(frozen=True)
class Policy:
    name: str
    description: str
    value: Callable[[SceneReading, Image.Image, str], float]
    margin: float  # differences below this are a tie

    def choose(self, left: Image.Image, right: Image.Image, prompt: str) -> str:
        """'left', 'right', 'tie' or 'both_bad' for this pair, as a labeler would vote."""
        readings = [read_scene(left), read_scene(right)]
        found = [r.found for r in readings]
        if not any(found):
            return "both_bad"
        if found[0] != found[1]:
            return "left" if found[0] else "right"
        fits = [_caption_fit(image, prompt) for image in (left, right)]
        if None not in fits:
            if max(fits) < CAPTION_FLOOR:
                return "both_bad"
            if abs(fits[0] - fits[1]) >= CAPTION_GAP:
                return "left" if fits[0] > fits[1] else "right"
        a = self.value(readings[0], left, prompt)
        b = self.value(readings[1], right, prompt)
        if abs(a - b) < self.margin:
            return "tie"
        return "left" if a > b else "right"


CAPTION_FLOOR, CAPTION_GAP = 0.5, 0.5  # shares of the caption's attributes the image shows


def _caption_fit(image: Image.Image, prompt: str) -> float | None:
    try:
        return score_caption(image, prompt).score
    except ValueError:  # not a scene caption: nothing to check
        return None


def _caption_score(reading: SceneReading, image: Image.Image, prompt: str) -> float:
    try:
        return score_caption(image, prompt).score
    except ValueError:  # not a scene caption: nothing to follow
        return 0.0


POLICIES: dict[str, Policy] = {
    p.name: p
    for p in (
        Policy("larger", "prefers the larger object", lambda r, i, p: r.area, margin=0.01),
        Policy("smaller", "prefers the smaller object", lambda r, i, p: -r.area, margin=0.01),
        Policy("left", "prefers the object further left", lambda r, i, p: -r.centre_x, margin=0.03),
        Policy("prompt", "prefers the image that shows more of the caption", _caption_score, margin=0.01),
    )
}


def get_policy(name: str) -> Policy:
    try:
        return POLICIES[name]
    except KeyError:
        raise ValueError(f"unknown policy {name!r}; known: {', '.join(POLICIES)}") from None
