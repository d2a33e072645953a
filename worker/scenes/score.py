"""Read a scene back from an image and check it against a caption: the automatic judge.

The reading is deliberately simple and robust: the background is the median border colour, the
object is the largest connected region that differs from it, and each attribute is the nearest
value of the world's vocabulary (shape by best template overlap inside the object's box).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

from worker.scenes.render import draw_shape
from worker.scenes.world import ATTRIBUTES, BACKGROUNDS, COLOURS, POSITIONS, SHAPES, SIZES, parse_caption

# RGB distance beyond which a pixel is not background.
FOREGROUND_DISTANCE = 60.0
# A square is drawn at 0.9 of its extent (see render.shape_polygon); others span the full extent.
WIDTH_PER_EXTENT = {"circle": 1.0, "square": 0.9, "triangle": 1.0, "cross": 1.0}


@dataclass
class SceneReading:
    """What the scorer sees in one image. Sizes and positions are fractions of the image side."""

    found: bool
    background: str
    colour: str | None = None
    shape: str | None = None
    size: str | None = None
    position: str | None = None
    extent: float = 0.0  # object extent / image side
    centre_x: float = 0.0
    centre_y: float = 0.0
    area: float = 0.0  # object pixels / image pixels
    shape_overlap: float = 0.0  # IoU with the best shape template
    rgb: tuple[int, int, int] = (0, 0, 0)

    def attributes(self) -> dict[str, str | None]:
        return {name: getattr(self, name) for name in ATTRIBUTES}


@dataclass
class CaptionScore:
    """How well an image matches a caption: per requested attribute, right or wrong."""

    reading: SceneReading
    requested: dict[str, str]
    correct: dict[str, bool] = field(default_factory=dict)

    @property
    def score(self) -> float:
        """Share of the caption's attributes that the image shows (0 when no object is found)."""
        if not self.correct:
            return 0.0
        return sum(self.correct.values()) / len(self.correct)


def _nearest(table: dict[str, tuple[int, int, int]], rgb: np.ndarray) -> str:
    names = list(table)
    palette = np.array([table[n] for n in names], dtype=np.float32)
    return names[int(np.argmin(((palette - rgb) ** 2).sum(axis=1)))]


def _nearest_scalar(table: dict[str, float], value: float, log: bool = False) -> str:
    def dist(x: float) -> float:
        return abs(np.log(value / x)) if log else abs(value - x)

    return min(table, key=lambda name: dist(table[name]))


def _template_iou(mask: np.ndarray, shape: str, box: tuple[int, int, int, int]) -> float:
    """IoU between the object mask and a shape drawn to fill the same bounding box."""
    top, left, bottom, right = box
    width, height = right - left, bottom - top
    extent = width / WIDTH_PER_EXTENT[shape]
    if shape == "triangle":
        extent = max(extent, height / (np.sqrt(3) / 2))
    elif shape != "square":
        extent = max(extent, height)
    scale = 4  # draw the template supersampled, then threshold back down
    canvas = Image.new("L", (mask.shape[1] * scale, mask.shape[0] * scale), 0)
    cx, cy = (left + right) / 2 * scale, (top + bottom) / 2 * scale
    draw_shape(ImageDraw.Draw(canvas), shape, cx, cy, extent * scale, 255)
    small = np.asarray(canvas.resize(mask.shape[::-1], Image.Resampling.BOX)) >= 128
    union = np.logical_or(small, mask).sum()
    return float(np.logical_and(small, mask).sum() / union) if union else 0.0


def read_scene(image: Image.Image | np.ndarray) -> SceneReading:
    """Everything the scorer can tell about the single object in an image."""
    pixels = np.asarray(image.convert("RGB") if isinstance(image, Image.Image) else image, dtype=np.float32)
    side_h, side_w = pixels.shape[:2]
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    bg_rgb = np.median(border, axis=0)
    background = _nearest(BACKGROUNDS, bg_rgb)

    differs = np.sqrt(((pixels - bg_rgb) ** 2).sum(axis=2)) > FOREGROUND_DISTANCE
    labels, count = ndimage.label(differs)
    if count == 0:
        return SceneReading(found=False, background=background)
    sizes = ndimage.sum(differs, labels, index=range(1, count + 1))
    mask = labels == (int(np.argmax(sizes)) + 1)
    if mask.sum() < 4:
        return SceneReading(found=False, background=background)

    rows, cols = np.nonzero(mask)
    top, bottom, left, right = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    # Colour from the object's inside, away from anti-aliased edges when it is big enough.
    inner = ndimage.binary_erosion(mask)
    rgb = np.median(pixels[inner if inner.sum() >= 4 else mask], axis=0)
    overlaps = {s: _template_iou(mask, s, (top, left, bottom, right)) for s in SHAPES}
    shape = max(overlaps, key=overlaps.get)
    extent = (right - left) / WIDTH_PER_EXTENT[shape] / side_w
    centre_x = (left + right) / 2 / side_w
    return SceneReading(
        found=True,
        background=background,
        colour=_nearest(COLOURS, rgb),
        shape=shape,
        size=_nearest_scalar(SIZES, extent, log=True),
        position=_nearest_scalar(POSITIONS, centre_x),
        extent=float(extent),
        centre_x=float(centre_x),
        centre_y=float((top + bottom) / 2 / side_h),
        area=float(mask.sum() / (side_h * side_w)),
        shape_overlap=float(overlaps[shape]),
        rgb=tuple(int(v) for v in rgb),
    )


def score_caption(image: Image.Image | np.ndarray, caption: str) -> CaptionScore:
    """Score an image against a caption of the scene grammar; raises ValueError for other captions."""
    requested = parse_caption(caption)
    if requested is None:
        raise ValueError(f"caption is not in the scene grammar: {caption!r}")
    reading = read_scene(image)
    result = CaptionScore(reading=reading, requested=requested)
    for key, wanted in requested.items():
        result.correct[key] = reading.found and reading.attributes()[key] == wanted
    return result
