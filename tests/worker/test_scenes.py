import random

import numpy as np
import pytest

from worker.scenes.render import render_array
from worker.scenes.score import read_scene, score_caption
from worker.scenes.world import COLOURS, SHAPES, Scene, caption_for, parse_caption, sample_scene


def test_same_seed_same_scene_and_image():
    a, b = sample_scene(random.Random(7)), sample_scene(random.Random(7))
    assert a == b
    assert np.array_equal(render_array(a), render_array(b))


def test_caption_round_trips_through_the_grammar():
    rng = random.Random(0)
    for _ in range(200):
        scene = sample_scene(rng)
        flags = {k: rng.random() < 0.5 for k in ("with_size", "with_position", "with_background")}
        parsed = parse_caption(caption_for(scene, **flags))
        assert parsed["colour"] == scene.colour and parsed["shape"] == scene.shape
        assert ("size" in parsed) == flags["with_size"]
        assert ("position" in parsed) == flags["with_position"]
        assert ("background" in parsed) == flags["with_background"]


def test_text_outside_the_grammar_is_refused():
    assert parse_caption("a photo of an astronaut riding a horse") is None
    with pytest.raises(ValueError, match="not in the scene grammar"):
        score_caption(np.zeros((64, 64, 3), np.uint8), "an astronaut")


def test_scorer_agrees_with_the_renderer_on_at_least_98_percent():
    rng = random.Random(123)
    scores = []
    for _ in range(600):
        scene = sample_scene(rng)
        scores.append(score_caption(render_array(scene), caption_for(scene)).score)
    assert np.mean(scores) >= 0.98


@pytest.mark.parametrize("shape", SHAPES)
def test_scorer_reads_every_shape_at_every_size(shape):
    for size in ("small", "medium", "large"):
        reading = read_scene(render_array(Scene("red", shape, size, "center", "white")))
        assert (reading.shape, reading.size) == (shape, size)


def test_scorer_notices_a_wrong_caption():
    image = render_array(Scene("red", "circle", "large", "left", "white"))
    result = score_caption(image, "a small blue square on the right, black background")
    assert result.correct == {"size": False, "colour": False, "shape": False, "position": False, "background": False}
    assert result.score == 0.0


def test_an_empty_image_has_no_object():
    reading = read_scene(np.full((64, 64, 3), 128, np.uint8))
    assert not reading.found and reading.background == "gray"


def test_colours_are_far_apart():
    palette = np.array(list(COLOURS.values()), dtype=float)
    distances = np.sqrt(((palette[:, None] - palette[None]) ** 2).sum(-1))
    assert distances[~np.eye(len(palette), dtype=bool)].min() > 60
