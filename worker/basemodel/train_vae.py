"""Stage 1: train the autoencoder on rendered scenes (reconstruction + a tiny KL term, as in SD).

Resumable like the UNet stage: state is saved every few hundred steps under work_dir/vae_state.pt.
"""

from __future__ import annotations

import math
import random
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from worker.basemodel.architecture import Architecture, make_vae
from worker.basemodel.data import render_batch, sample_training_scene
from worker.basemodel.resume import load_state, save_state
from worker.scenes.score import score_caption
from worker.scenes.world import caption_for

KL_WEIGHT = 1e-6
STATE_FILE = "vae_state.pt"


def _lr(step: int, steps: int, lr: float, warmup: int = 100) -> float:
    if step < warmup:
        return lr * (step + 1) / warmup
    return lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup))))


def reconstruction_score(vae, count: int = 200, seed: int = 12345) -> float:
    """Share of caption attributes the scene scorer still reads after encode → decode."""
    rng = random.Random(seed)
    scenes = [sample_training_scene(rng) for _ in range(count)]
    with torch.no_grad():
        images = torch.from_numpy(render_batch(scenes))
        decoded = vae.decode(vae.encode(images).latent_dist.mode()).sample.clamp(-1, 1)
    pixels = ((decoded + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()
    return float(np.mean([score_caption(p, caption_for(s)).score for p, s in zip(pixels, scenes, strict=True)]))


def train_vae(
    out_dir: Path, arch: Architecture, steps: int, batch: int, lr: float, seed: int, minutes: float | None = None
) -> dict | None:
    """Train (or continue) the VAE; when all steps are done save it under out_dir/vae and return metrics."""
    torch.manual_seed(seed)
    rng = random.Random(seed)
    vae = make_vae(arch)
    optimizer = torch.optim.AdamW(vae.parameters(), lr=lr, weight_decay=0.0)
    step, elapsed, recent = 0, 0.0, []
    state_path = out_dir / STATE_FILE
    if (state := load_state(state_path, rng)) is not None:
        vae.load_state_dict(state["vae"])
        optimizer.load_state_dict(state["optimizer"])
        step, elapsed, recent = state["step"], state["elapsed"], state["recent"]

    def save() -> None:
        save_state(state_path, rng, vae=vae.state_dict(), optimizer=optimizer.state_dict(), step=step,
                   elapsed=elapsed, recent=recent)  # fmt: skip

    deadline = time.monotonic() + minutes * 60 if minutes else None
    progress = tqdm(total=steps, initial=step, desc="vae", dynamic_ncols=True)
    while step < steps and (deadline is None or time.monotonic() < deadline):
        started = time.monotonic()
        images = torch.from_numpy(render_batch([sample_training_scene(rng) for _ in range(batch)]))
        posterior = vae.encode(images).latent_dist
        recon = vae.decode(posterior.sample()).sample
        mse = torch.nn.functional.mse_loss(recon, images)
        loss = mse + 0.5 * torch.nn.functional.l1_loss(recon, images) + KL_WEIGHT * posterior.kl().mean()
        for group in optimizer.param_groups:
            group["lr"] = _lr(step, steps, lr)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        elapsed += time.monotonic() - started
        recent = (recent + [mse.item()])[-100:]
        progress.update(1)
        progress.set_postfix(mse=f"{sum(recent) / len(recent):.5f}")
        if step % 250 == 0:
            save()
    progress.close()
    save()
    if step < steps:
        return None

    # SD scales latents to unit variance; measure the factor on fresh scenes.
    vae.eval()
    with torch.no_grad():
        images = torch.from_numpy(render_batch([sample_training_scene(rng) for _ in range(256)]))
        scale = float(1.0 / vae.encode(images).latent_dist.mode().std())
    vae.register_to_config(scaling_factor=scale)
    vae.save_pretrained(out_dir / "vae")
    return {
        "vae_steps": steps,
        "vae_batch": batch,
        "vae_mse": sum(recent) / len(recent),
        "vae_train_seconds": round(elapsed, 1),
        "scaling_factor": scale,
        "reconstruction_score": reconstruction_score(vae),
    }
