"""The automatic labelers' policies decide as their names say, on rendered scenes."""

import pytest
from PIL import Image

from worker.scenes.policies import POLICIES, get_policy
from worker.scenes.render import render_scene
from worker.scenes.world import Scene


def scene(size="medium", position="center", colour="red", shape="circle") -> Image.Image:
    return render_scene(Scene(colour, shape, size, position, "white"))


def test_size_and_position_policies():
    small, large = scene(size="small"), scene(size="large")
    assert get_policy("smaller").choose(small, large, "a red circle") == "left"
    assert get_policy("larger").choose(small, large, "a red circle") == "right"
    left, right = scene(position="left"), scene(position="right")
    assert get_policy("left").choose(right, left, "a red circle") == "right"
    assert get_policy("smaller").choose(small, small, "a red circle") == "tie"


def test_prompt_policy_and_unreadable_images():
    right_colour, wrong_colour = scene(colour="red"), scene(colour="blue")
    assert get_policy("prompt").choose(wrong_colour, right_colour, "a red circle") == "right"
    blank = Image.new("RGB", (64, 64), (255, 255, 255))
    for policy in POLICIES.values():
        assert policy.choose(blank, blank, "a red circle") == "both_bad"
        assert policy.choose(blank, right_colour, "a red circle") == "right"
    with pytest.raises(ValueError, match="unknown policy"):
        get_policy("kindest")
