"""The one interface every judge has: scores for images of one or more prompts, batched, on the
worker's device; a higher score is a better image for its prompt. Scores of one judge compare with
each other, not with another judge's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from PIL import Image


class Judge(Protocol):
    name: str

    def score(self, prompts: list[str], images: list[Image.Image]) -> list[float]:
        """One score per (prompt, image), in order."""
        ...


class Embedder(Protocol):
    """A judge that also maps images into its own feature space (the CLIP judges; the scene scorer has none)."""

    def embed(self, images: list[Image.Image]) -> np.ndarray:
        """Unit-length embeddings, one row per image."""
        ...


class JudgeUnavailable(RuntimeError):
    """The judge's weights or package are missing; the message names what to put where."""


def prefer(judge: Judge, prompt: str, left: Image.Image, right: Image.Image, margin: float = 0.0) -> str:
    """'left', 'right' or 'tie' (scores closer than margin), as a labeler would vote."""
    a, b = judge.score([prompt, prompt], [left, right])
    if abs(a - b) <= margin:
        return "tie"
    return "left" if a > b else "right"


@dataclass
class JudgeChoice:
    """A judge in the shape a labeler program asks for (worker/scenes/simulate.py): choose(left, right, prompt)."""

    judge: Judge
    margin: float

    def choose(self, left: Image.Image, right: Image.Image, prompt: str) -> str:
        return prefer(self.judge, prompt, left.convert("RGB"), right.convert("RGB"), self.margin)
