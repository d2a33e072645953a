"""The forward process a family trains with: how a timestep is drawn, how latents are noised at it,
and what the denoiser is asked to predict. The DPO loss (objective.py) is the same for all.

- Diffusion (SD 1.x/2.x, SDXL, the embedded model): t uniform over the 1,000 training steps,
  x_t = sqrt(ᾱ_t)·x0 + sqrt(1 − ᾱ_t)·ε, target ε (or v for v-prediction models).
- Rectified flow (SD3, FLUX): σ drawn as the families' own training scripts draw it — u from a
  logit-normal(0, 1), then the scheduler's (shifted, for SD3) σ table at index ⌊u·1000⌋ —
  x_t = (1 − σ)·x0 + σ·ε, target the velocity ε − x0, no loss weighting (the scripts' logit-normal
  scheme weights 1). The timestep the denoiser sees is σ·1000, the scheduler's own timesteps.
"""

from __future__ import annotations

import torch


class RefusedScheduler(ValueError):
    """A scheduler configuration this trainer cannot train with."""


class DiffusionNoising:
    def __init__(self, scheduler_config):
        from diffusers import DDPMScheduler

        self.scheduler = DDPMScheduler.from_config(scheduler_config)
        self.kind = self.scheduler.config.prediction_type
        if self.kind not in ("epsilon", "v_prediction"):
            raise RefusedScheduler(f"prediction type {self.kind!r} is not supported (epsilon and v_prediction are)")

    def timesteps(self, count: int, generator: torch.Generator) -> torch.Tensor:
        return torch.randint(0, self.scheduler.config.num_train_timesteps, (count,), generator=generator)

    def at_quantiles(self, q: torch.Tensor) -> torch.Tensor:
        """The timesteps at these quantiles (0 < q < 1) of the training draw: fixed, spread-out points."""
        return (q * self.scheduler.config.num_train_timesteps).long()

    def noised(self, x0: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        return self.scheduler.add_noise(x0, noise, timesteps)

    def target(self, x0: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        return noise if self.kind == "epsilon" else self.scheduler.get_velocity(x0, noise, timesteps)


class FlowNoising:
    def __init__(self, scheduler_config, logit_mean: float = 0.0, logit_std: float = 1.0):
        from diffusers import FlowMatchEulerDiscreteScheduler

        scheduler = FlowMatchEulerDiscreteScheduler.from_config(scheduler_config)
        self.train_steps = scheduler.config.num_train_timesteps
        self.table = scheduler.timesteps.float()  # σ·1000 per index, shifted as the family's scheduler shifts
        self.logit_mean, self.logit_std = logit_mean, logit_std

    def timesteps(self, count: int, generator: torch.Generator) -> torch.Tensor:
        from diffusers.training_utils import compute_density_for_timestep_sampling

        u = compute_density_for_timestep_sampling("logit_normal", count, self.logit_mean, self.logit_std,
                                                  generator=generator)  # fmt: skip
        index = (u * self.train_steps).long().clamp(0, len(self.table) - 1)
        return self.table[index]

    def at_quantiles(self, q: torch.Tensor) -> torch.Tensor:
        """The timesteps at these quantiles (0 < q < 1) of the logit-normal training draw."""
        u = torch.sigmoid(self.logit_mean + self.logit_std * torch.special.ndtri(q.double())).float()
        index = (u * self.train_steps).long().clamp(0, len(self.table) - 1)
        return self.table[index]

    def _sigma(self, timesteps: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return (timesteps / self.train_steps).to(like.device, like.dtype).view(-1, *([1] * (like.dim() - 1)))

    def noised(self, x0: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        sigma = self._sigma(timesteps, x0)
        return (1.0 - sigma) * x0 + sigma * noise

    def target(self, x0: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        return noise - x0


def noising_for(family, scheduler_config) -> DiffusionNoising | FlowNoising:
    return FlowNoising(scheduler_config) if family.is_flow else DiffusionNoising(scheduler_config)
