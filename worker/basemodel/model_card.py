"""The model card (README.md) of the embedded base model's pipeline directory."""

from __future__ import annotations

import json
from pathlib import Path

from worker.scenes.world import BACKGROUNDS, COLOURS, POSITIONS, SHAPES, SIZES


def _table(rows: dict[str, float], bars: dict[str, float]) -> str:
    lines = ["| attribute | right | bar |", "| --- | --- | --- |"]
    for name, value in rows.items():
        if name == "images":
            continue
        bar = f"≥ {bars[name]:.0%}" if name in bars else "—"
        lines.append(f"| {name} | {value:.1%} | {bar} |")
    return "\n".join(lines)


def write_model_card(directory: Path, training: dict, scores: dict | None) -> None:
    """Write README.md from training.json's facts and, when measured, evaluate's scores."""
    from worker.basemodel.evaluate import BARS  # evaluate loads torch; writing a card from saved scores need not

    recipe, arch = training["recipe"], training["architecture"]
    sizes = {str(p.relative_to(directory)): p.stat().st_size for p in directory.rglob("*.safetensors")}
    text = f"""---
library_name: diffusers
pipeline_tag: text-to-image
tags: [stable-diffusion, dpoloop, synthetic]
---
# dpoloop scenes base model (64×64)

A tiny text-to-image model with Stable Diffusion's architecture, trained from scratch on CPU by
`dpoloop base-model train` so that dpoloop's whole loop runs with no GPU and no downloads.
Load it with `StableDiffusionPipeline.from_pretrained(path)`.

## Data
Synthetic scenes rendered by `worker/scenes`: one object on a plain background.
Colours: {", ".join(COLOURS)}. Shapes: {", ".join(SHAPES)}. Sizes: {", ".join(SIZES)}.
Positions: {", ".join(POSITIONS)}. Backgrounds: {", ".join(BACKGROUNDS)}.
Captions follow `a [size] colour shape [on the left|in the center|on the right][, bg background]`;
size, position and background are each left out of 30% of training captions (free attributes vary
by seed), and 10% of captions are empty (classifier-free guidance). About 10% of (colour, shape,
size, position) combinations never appear in training; evaluation uses them.
{recipe["scenes"]:,} rendered scenes, encoded once by the VAE.

## Architecture
- VAE: AutoencoderKL, channels {arch["vae_channels"]}, 64×64×3 → 16×16×4 latents
  (scaling factor {training["vae"]["scaling_factor"]:.4f}; reconstruction MSE {training["vae"]["vae_mse"]:.5f}).
- Text encoder: CLIPTextModel, hidden {arch["text_hidden"]}, {arch["text_layers"]} layers; CLIP byte-level BPE
  tokenizer whose merges make each caption word one token.
- UNet: UNet2DConditionModel, channels {arch["unet_channels"]}, {arch["unet_layers_per_block"]} layer(s) per block,
  cross-attention at 16×16 and 8×8.
- Noise: DDPM linear schedule (1000 steps, v-prediction as in SD 2.x); sampler DPM-Solver++ 2M.
- Files: {", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in sorted(sizes.items()))}.

## Training
VAE {training["vae"]["vae_steps"]} steps; then text encoder + UNet jointly for {training["unet_steps"]} steps
(of the recipe's {recipe["steps"]}),
batch {recipe["batch"]}, AdamW lr {recipe["lr"]} (warmup {recipe["warmup"]}, cosine), v-loss,
EMA {recipe["ema_decay"]}: {training["unet_train_seconds"] / 60:.1f} min of training on a 2-core CPU
({training["unet_steps_per_second"]} steps/s). Seed {recipe["seed"]}. Full record: `training.json`.
"""
    if scores:
        text += f"""
## Scores
`dpoloop base-model evaluate`: {scores["held_out"]["images"]} images of held-out combinations
({scores["seeds"]} seeds each, {scores["steps"]} steps, guidance {scores["guidance"]}), read by the scene scorer:

{_table(scores["held_out"], BARS)}

Seed spread for "{scores["spread"]["prompt"]}" over {scores["spread"]["found"]} seeds:
extent {scores["spread"].get("extent_mean")} ± {scores["spread"].get("extent_sd")} of the image side,
centre-x sd {scores["spread"].get("centre_x_sd")}; sizes {json.dumps(scores["spread"].get("sizes"))},
positions {json.dumps(scores["spread"].get("positions"))}.
"""
    (directory / "README.md").write_text(text)
