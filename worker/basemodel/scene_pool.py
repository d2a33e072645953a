"""Stage 2: render a fixed pool of training scenes once and keep their VAE latents.

Encoding once means the UNet stage never runs the VAE encoder, the same trick the project's
pair pool uses for Diffusion-DPO.
"""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path

import torch
from tqdm import tqdm

from worker.basemodel.data import render_batch, sample_training_scene
from worker.scenes.world import Scene


def build_scene_pool(work_dir: Path, vae, count: int, seed: int, chunk: int = 256) -> None:
    """Write scenes.json and latents.pt (scaled, as the UNet sees them) under work_dir."""
    rng = random.Random(seed + 1)
    scenes = [sample_training_scene(rng) for _ in range(count)]
    latents = []
    vae.eval()
    with torch.no_grad():
        for start in tqdm(range(0, count, chunk), desc="encode scenes", dynamic_ncols=True):
            images = torch.from_numpy(render_batch(scenes[start : start + chunk]))
            latents.append(vae.encode(images).latent_dist.mode() * vae.config.scaling_factor)
    torch.save(torch.cat(latents).half(), work_dir / "latents.pt")
    (work_dir / "scenes.json").write_text(json.dumps([dataclasses.asdict(s) for s in scenes]))


def load_scene_pool(work_dir: Path) -> tuple[list[Scene], torch.Tensor]:
    scenes = [Scene(**s) for s in json.loads((work_dir / "scenes.json").read_text())]
    return scenes, torch.load(work_dir / "latents.pt").float()
