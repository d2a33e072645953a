"""Deterministic rendering of a Scene to an RGB image (anti-aliased by 4x supersampling)."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from worker.scenes.world import BACKGROUNDS, COLOURS, POSITIONS, SIZES, Scene

SUPERSAMPLE = 4


def shape_polygon(shape: str, cx: float, cy: float, extent: float) -> list[tuple[float, float]] | None:
    """Vertices of a shape centred at (cx, cy) fitting an extent×extent box; None for the circle."""
    h = extent / 2
    if shape == "square":
        s = h * 0.9  # a square looks bigger than a circle of the same box; keep areas comparable
        return [(cx - s, cy - s), (cx + s, cy - s), (cx + s, cy + s), (cx - s, cy + s)]
    if shape == "triangle":
        # Equilateral, pointing up, centred on its bounding box.
        height = extent * math.sqrt(3) / 2
        return [(cx, cy - height / 2), (cx + h, cy + height / 2), (cx - h, cy + height / 2)]
    if shape == "cross":
        a = extent / 6  # arm half-width: arms are one third of the extent wide
        return [
            (cx - a, cy - h), (cx + a, cy - h), (cx + a, cy - a), (cx + h, cy - a),
            (cx + h, cy + a), (cx + a, cy + a), (cx + a, cy + h), (cx - a, cy + h),
            (cx - a, cy + a), (cx - h, cy + a), (cx - h, cy - a), (cx - a, cy - a),
        ]  # fmt: skip
    if shape == "circle":
        return None
    raise ValueError(f"unknown shape {shape!r}")


def draw_shape(draw: ImageDraw.ImageDraw, shape: str, cx: float, cy: float, extent: float, fill) -> None:
    polygon = shape_polygon(shape, cx, cy, extent)
    if polygon is None:
        h = extent / 2
        draw.ellipse([cx - h, cy - h, cx + h, cy + h], fill=fill)
    else:
        draw.polygon(polygon, fill=fill)


def render_scene(scene: Scene, size: int = 64) -> Image.Image:
    """The scene as a size×size RGB image."""
    big = size * SUPERSAMPLE
    image = Image.new("RGB", (big, big), BACKGROUNDS[scene.background])
    extent = SIZES[scene.size] * scene.size_jitter * big
    cx = (POSITIONS[scene.position] + scene.dx) * big
    cy = (0.5 + scene.dy) * big
    draw_shape(ImageDraw.Draw(image), scene.shape, cx, cy, extent, COLOURS[scene.colour])
    return image.resize((size, size), Image.Resampling.BOX)


def render_array(scene: Scene, size: int = 64) -> np.ndarray:
    """The scene as a uint8 array of shape (size, size, 3)."""
    return np.asarray(render_scene(scene, size), dtype=np.uint8)
