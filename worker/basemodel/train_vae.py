"""Stage 1: train the autoencoder on rendered scenes (reconstruction + a tiny KL term, as in SD)."""

from __future__ import annotations

import random
from pathlib import Path

import torch
from tqdm import tqdm

from worker.basemodel.architecture import Architecture, make_vae
from worker.basemodel.data import render_batch, sample_training_scene

KL_WEIGHT = 1e-6


def train_vae(out_dir: Path, arch: Architecture, steps: int, batch: int, lr: float, seed: int) -> dict:
    """Train and save the VAE under out_dir/vae; returns the final metrics."""
    torch.manual_seed(seed)
    rng = random.Random(seed)
    vae = make_vae(arch)
    optimizer = torch.optim.AdamW(vae.parameters(), lr=lr, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=0.05)
    recent: list[float] = []
    progress = tqdm(range(steps), desc="vae", dynamic_ncols=True)
    for _ in progress:
        images = torch.from_numpy(render_batch([sample_training_scene(rng) for _ in range(batch)]))
        posterior = vae.encode(images).latent_dist
        recon = vae.decode(posterior.sample()).sample
        mse = torch.nn.functional.mse_loss(recon, images)
        loss = mse + 0.5 * torch.nn.functional.l1_loss(recon, images) + KL_WEIGHT * posterior.kl().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        recent = (recent + [mse.item()])[-50:]
        progress.set_postfix(mse=f"{sum(recent) / len(recent):.5f}")

    # SD scales latents to unit variance; measure the factor on fresh scenes.
    vae.eval()
    with torch.no_grad():
        images = torch.from_numpy(render_batch([sample_training_scene(rng) for _ in range(256)]))
        latents = vae.encode(images).latent_dist.mode()
    vae.register_to_config(scaling_factor=float(1.0 / latents.std()))
    vae.save_pretrained(out_dir / "vae")
    return {"vae_steps": steps, "vae_mse": sum(recent) / len(recent), "scaling_factor": float(1.0 / latents.std())}
