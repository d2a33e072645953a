"""Judges through the real code paths: tiny randomly initialised CLIP models built from configs
(with the embedded model's tokenizer) stand in for PickScore's and CLIP's weights."""

import numpy as np
import pytest
from PIL import Image

from worker.judges.base import JudgeUnavailable, prefer
from worker.judges.registry import load_judge


def images() -> list[Image.Image]:
    return [Image.new("RGB", (48, 40), colour) for colour in ("red", "blue", "green")]


@pytest.mark.parametrize("kind", ["clip", "pickscore"])
def test_clip_judges_score_batches_of_prompt_image_pairs(tiny_clip, kind):
    judge = load_judge(f"{kind}:{tiny_clip}")
    prompts = ["a red circle", "a blue square", "a green triangle"]
    scores = judge.score(prompts, images())
    assert len(scores) == 3 and all(isinstance(s, float) for s in scores)
    assert judge.score(prompts, images()) == scores  # deterministic
    assert judge.score(prompts[:1], images()[:1]) == pytest.approx(scores[:1], abs=1e-4)  # batching changes nothing
    if kind == "clip":
        assert all(0 <= s <= 100 for s in scores)
    assert prefer(judge, "a red circle", images()[0], images()[0]) == "tie"


@pytest.mark.parametrize("kind", ["clip", "pickscore"])
def test_clip_judges_embed_images_as_unit_rows_in_their_own_space(tiny_clip, kind):
    judge = load_judge(f"{kind}:{tiny_clip}")
    rows = judge.embed(images() + images()[:1])
    assert rows.shape == (4, 16)
    assert np.linalg.norm(rows, axis=1) == pytest.approx(np.ones(4), abs=1e-5)
    assert rows[3] == pytest.approx(rows[0], abs=1e-5)  # the same image, the same point
    assert np.linalg.norm(rows[0] - rows[1]) > 1e-3  # red and blue are not one point
    assert judge.embed(images()[1:2]) == pytest.approx(rows[1:2], abs=1e-5)  # batching changes nothing
    assert not hasattr(load_judge("scenes"), "embed")  # the scene scorer has no feature space: latents serve


def test_the_scenes_judge_reads_the_caption_off_the_image():
    import dataclasses
    import random

    from worker.scenes.render import render_scene
    from worker.scenes.world import caption_for, sample_scene

    judge = load_judge("scenes")
    scene = sample_scene(random.Random(1))
    other = next(s for s in ("circle", "square", "triangle") if s != scene.shape)
    right, wrong = render_scene(scene), render_scene(dataclasses.replace(scene, shape=other))
    prompt = caption_for(scene, with_size=False)
    good, bad = judge.score([prompt, prompt], [right, wrong])
    assert good > bad and prefer(judge, prompt, right, wrong) == "left"
    assert judge.score(["a photo of a cat"], [right]) == [0.0]


def test_missing_weights_and_unknown_judges_are_named(tmp_path):
    for spec, message in (("pickscore:/nowhere", "no weights directory at /nowhere"),
                          ("pickscore", "needs its weights"), ("hpsv2:/x", "not supported yet"),
                          ("oracle:/x", "unknown judge 'oracle'")):  # fmt: skip
        with pytest.raises(JudgeUnavailable, match=message):
            load_judge(spec)
    (tmp_path / "config.json").write_text("{}")
    expected = "lacks tokenizer_config.json, preprocessor_config.json or processor_config.json, model"
    with pytest.raises(JudgeUnavailable, match=expected):
        load_judge(f"clip:{tmp_path}")


def test_the_gate_uses_the_judge_the_settings_name(loop_db, tiny_clip, monkeypatch):
    from tests.conftest import apply_settings
    from tests.helpers.rounds import QUICK, labeled_pool, round_row, start
    from worker.rounds.run import run_round

    spec = f"pickscore:{tiny_clip}"
    apply_settings(monkeypatch, gate_judge=spec, gate_max_judge_drop=100)
    labeled_pool(8)
    round_id = start(QUICK)
    run_round(round_id)
    row = round_row(round_id)
    assert row.state == "succeeded", row.error
    metrics = row.metrics
    assert metrics["judge"] == spec and metrics["judge_images"] == 4
    assert isinstance(metrics["judge_score"], float) and isinstance(metrics["judge_score_parent"], float)
    assert "judge" in metrics["gate"]["checks"] and metrics["gate"]["rules"]["judge"]["op"] == ">="
