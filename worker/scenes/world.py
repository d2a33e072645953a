"""Attributes of the scene world, how a scene is sampled, and the caption grammar.

Caption grammar:  a [SIZE] COLOUR SHAPE [POSITION][, BACKGROUND background]
  e.g. "a small red circle on the left, blue background" or just "a green square".
Attributes left out of a caption are free: the model may draw any value for them, which is what
gives labelers real choices between two seeds of one prompt.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

# Object colours (RGB). Chosen to stay far apart from each other and from every background.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "orange": (245, 140, 20),
    "yellow": (240, 220, 30),
    "green": (40, 170, 50),
    "blue": (30, 70, 220),
    "purple": (140, 40, 180),
    "pink": (250, 120, 190),
    "cyan": (40, 200, 220),
}
BACKGROUNDS: dict[str, tuple[int, int, int]] = {
    "white": (245, 245, 245),
    "gray": (128, 128, 128),
    "black": (15, 15, 15),
    "beige": (225, 205, 160),
}
SHAPES = ("circle", "square", "triangle", "cross")
# Object extent as a fraction of the image side.
SIZES: dict[str, float] = {"small": 0.28, "medium": 0.42, "large": 0.58}
# Horizontal centre as a fraction of the image width.
POSITIONS: dict[str, float] = {"left": 0.3, "center": 0.5, "right": 0.7}
POSITION_PHRASES = {"left": "on the left", "center": "in the center", "right": "on the right"}

# The attributes a caption can name, in caption order.
ATTRIBUTES = ("colour", "shape", "size", "position", "background")

CAPTION_WORDS = (
    ["a", "on", "the", "in", "background", ","]
    + list(COLOURS)
    + list(BACKGROUNDS)
    + list(SHAPES)
    + list(SIZES)
    + list(POSITIONS)
)


@dataclass(frozen=True)
class Scene:
    """One image's full description, plus small continuous jitter so no two seeds are identical."""

    colour: str
    shape: str
    size: str
    position: str
    background: str
    size_jitter: float = 1.0  # multiplies the size's extent
    dx: float = 0.0  # horizontal offset, fraction of width
    dy: float = 0.0  # vertical offset, fraction of height

    def attributes(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in ATTRIBUTES}


def sample_scene(rng: random.Random, **fixed: str) -> Scene:
    """A random scene; keyword arguments pin attributes (colour=, shape=, size=, position=, background=)."""
    colour = fixed.get("colour") or rng.choice(list(COLOURS))
    shape = fixed.get("shape") or rng.choice(SHAPES)
    size = fixed.get("size") or rng.choice(list(SIZES))
    position = fixed.get("position") or rng.choice(list(POSITIONS))
    background = fixed.get("background") or rng.choice(list(BACKGROUNDS))
    return Scene(
        colour=colour,
        shape=shape,
        size=size,
        position=position,
        background=background,
        size_jitter=rng.uniform(0.9, 1.1),
        dx=rng.uniform(-0.04, 0.04),
        dy=rng.uniform(-0.12, 0.12),
    )


def caption_for(
    scene: Scene,
    *,
    with_size: bool = True,
    with_position: bool = True,
    with_background: bool = True,
) -> str:
    """The caption of a scene; colour and shape are always named, the rest optionally."""
    words = ["a"]
    if with_size:
        words.append(scene.size)
    words += [scene.colour, scene.shape]
    text = " ".join(words)
    if with_position:
        text += " " + POSITION_PHRASES[scene.position]
    if with_background:
        text += f", {scene.background} background"
    return text


_CAPTION_RE = re.compile(
    r"^a\s+(?:(?P<size>{sizes})\s+)?(?P<colour>{colours})\s+(?P<shape>{shapes})"
    r"(?:\s+(?:on the|in the)\s+(?P<position>{positions}))?"
    r"(?:\s*,\s*(?P<background>{backgrounds})\s+background)?\s*$".format(
        sizes="|".join(SIZES),
        colours="|".join(COLOURS),
        shapes="|".join(SHAPES),
        positions="|".join(POSITIONS),
        backgrounds="|".join(BACKGROUNDS),
    )
)


def parse_caption(caption: str) -> dict[str, str] | None:
    """The attributes a caption asks for, or None when it is not in the grammar."""
    match = _CAPTION_RE.match(caption.strip().lower())
    if match is None:
        return None
    return {key: value for key, value in match.groupdict().items() if value is not None}
