"""The implicit reward a served checkpoint has learned, per image: what the `uncertain` pairing ranks by.

Diffusion-DPO's loss (objective.py) is -log σ(r(x_w) - r(x_l)) with, per image,

    r(x) = -beta/2 * (err_model(x) - err_reference(x))

(computed here in units of beta, which only scales r: the `uncertain` pairing ranks by |r_i - r_j|,
which no positive scale reorders)
so a trained model carries a reward: images it denoises better than its reference are the ones it
has learned to prefer, and P(labeler prefers i over j) = σ(r_i - r_j) under the Bradley-Terry model
DPO assumes. Here the model is the served checkpoint and the reference is the base: the log-ratios
of a chain of rounds add up (log π_n/π_0 = Σ log π_k/π_(k-1)), so this is everything the loop has
learned, and the base is always at hand (adapters off, or the base denoiser kept aside).

The expectation over noise and timestep is taken at fixed points: the same noise for every image (so
differences between candidates are not noise) at DRAWS timesteps spread over the quantiles of the
family's own training draw.
"""

from __future__ import annotations

import numpy as np
import torch

from worker.dpo.conditioning import PromptEncoder
from worker.dpo.noising import noising_for
from worker.dpo.objective import denoising_error

DRAWS = 4
REWARD_SEED = 20_000
CHUNK = 16  # images per denoiser call


@torch.no_grad()
def implicit_rewards(generator, prompts: list[str], latents: list[np.ndarray], guidance: float | None = None
                     ) -> np.ndarray:  # fmt: skip
    """r / beta for each (prompt, latents) under the generator's worn weights against its base weights.
    All latents share one shape (C, h, w), the layout the generator stores. Zero when nothing is worn.
    guidance: FLUX's guidance embedding (as drawn)."""
    pipe, family = generator.pipe, generator.family
    noising = noising_for(family, pipe.scheduler.config)
    encoder = PromptEncoder(pipe, family, guidance=guidance)
    device, dtype = generator.denoiser.device, generator.denoiser.dtype
    x0 = torch.from_numpy(np.stack(latents)).to(device, torch.float32)
    factor = pipe.vae_scale_factor
    height, width = x0.shape[-2] * factor, x0.shape[-1] * factor
    quantiles = (torch.arange(DRAWS, dtype=torch.float64) + 0.5) / DRAWS
    timesteps = noising.at_quantiles(quantiles)
    difference = torch.zeros(len(latents), dtype=torch.float64)
    for draw in range(DRAWS):
        noise = torch.randn(x0.shape[1:], generator=torch.Generator().manual_seed(REWARD_SEED + draw))
        for start in range(0, len(latents), CHUNK):
            x = x0[start : start + CHUNK]
            eps = noise.to(device).expand_as(x)
            t = timesteps[draw].expand(len(x)).to(device)
            noisy = noising.noised(x, eps, t).to(dtype)
            target = noising.target(x, eps, t)
            cond = encoder.batch(prompts[start : start + CHUNK], height, width)
            served = denoising_error(cond.predict(generator.denoiser, noisy, t), target)
            with generator.base_weights():
                base = denoising_error(cond.predict(generator.denoiser, noisy, t), target)
            difference[start : start + len(x)] += (served - base).double().cpu()
    return (-0.5 * difference / DRAWS).numpy()
