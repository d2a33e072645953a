"""The shipped base model, and the script that trains it (smoke runs on a tiny configuration)."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from cli.main import cli
from core.schemas.generation import GenerationParams
from worker.scenes.score import score_caption

# Full captions of held-out (colour, shape, size, position) combinations, one fixed seed each.
FIXED = [
    ("a large red circle on the left, white background", 11),
    ("a small blue square on the right, black background", 12),
    ("a medium green triangle in the center, gray background", 13),
    ("a large yellow cross on the right, beige background", 14),
    ("a medium purple circle in the center, white background", 15),
    ("a large cyan square on the left, gray background", 16),
    ("a medium orange cross on the left, black background", 17),
    ("a large pink triangle on the right, beige background", 18),
]


def test_loads_with_plain_diffusers_and_nothing_else(embedded_model):
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(embedded_model)
    image = pipe(
        "a red circle", num_inference_steps=10, generator=__import__("torch").Generator().manual_seed(0)
    ).images[0]
    assert image.size == (64, 64)


def test_is_small_and_has_a_model_card(embedded_model):
    size = sum(p.stat().st_size for p in embedded_model.rglob("*.safetensors"))
    assert size <= 30 * 1024 * 1024
    card = (embedded_model / "README.md").read_text()
    assert "## Scores" in card and "## Training" in card
    training = json.loads((embedded_model / "training.json").read_text())
    assert f"for {training['unet_steps']} steps" in card and training["unet_train_seconds"] > 0


def test_follows_captions_on_fixed_seeds(embedded_model):
    from worker.generation.generator import Generator

    generator = Generator(embedded_model)
    results = generator.generate([GenerationParams(prompt=p, seed=s) for p, s in FIXED])
    scores = [score_caption(r.image, p) for r, (p, _) in zip(results, FIXED, strict=True)]
    colour = np.mean([s.correct["colour"] for s in scores])
    shape = np.mean([s.correct["shape"] for s in scores])
    position = np.mean([s.correct["position"] for s in scores])
    assert colour >= 7 / 8 and shape >= 5 / 8 and position >= 6 / 8, [s.reading for s in scores]


def test_seeds_vary_what_the_caption_leaves_free(embedded_model):
    from worker.generation.generator import Generator
    from worker.scenes.score import read_scene

    generator = Generator(embedded_model)
    results = generator.generate([GenerationParams(prompt="a red circle", seed=s) for s in range(12)])
    readings = [read_scene(r.image) for r in results]
    assert len({r.size for r in readings if r.found}) >= 2
    assert len({r.position for r in readings if r.found}) >= 2


def test_training_script_smoke_run_resumes_and_exports(tmp_path):
    runner = CliRunner()
    work, out = tmp_path / "work", tmp_path / "model"
    args = ["base-model", "train", "--tiny", "--work-dir", str(work), "--out", str(out), "--threads", "1"]
    first = runner.invoke(cli, [*args, "--steps", "3"])
    assert first.exit_code == 0, first.output
    assert "step 3/3" in first.output and (out / "model_index.json").exists()
    second = runner.invoke(cli, [*args, "--steps", "5"])  # continues from the saved state
    assert second.exit_code == 0, second.output
    training = json.loads((out / "training.json").read_text())
    assert training["unet_steps"] == 5 and [e["step"] for e in training["loss_curve"]] == [3, 5]
    from diffusers import StableDiffusionPipeline

    assert StableDiffusionPipeline.from_pretrained(out).unet.config.sample_size == 16
    # --export-now writes the weights as they are, taking no step, and says so in the card.
    third = runner.invoke(cli, [*args, "--steps", "9", "--export-now"])
    assert third.exit_code == 0 and "exported as it is" in third.output, third.output
    assert json.loads((out / "training.json").read_text())["unet_steps"] == 5
    assert "5 steps\n(of the recipe's 9)" in (out / "README.md").read_text()


def test_evaluate_prints_the_table_and_fails_an_untrained_model(tmp_path):
    runner = CliRunner()
    out = tmp_path / "model"
    runner.invoke(
        cli, ["base-model", "train", "--tiny", "--work-dir", str(tmp_path / "w"), "--out", str(out), "--steps", "2"]
    )
    result = runner.invoke(cli, ["base-model", "evaluate", "--model", str(out), "--seeds", "1", "--steps", "4",
                                 "--spread-seeds", "4"])  # fmt: skip
    assert result.exit_code == 1, result.output  # a model trained for two steps is below the bars
    for word in ("colour", "shape", "position", "FAIL", "seed spread"):
        assert word in result.output


@pytest.mark.parametrize("bad", [["--steps", "-3"], ["--threads", "0"]])
def test_train_refuses_bad_arguments(tmp_path, bad):
    result = CliRunner().invoke(cli, ["base-model", "train", "--tiny", "--work-dir", str(tmp_path), *bad])
    assert result.exit_code != 0
