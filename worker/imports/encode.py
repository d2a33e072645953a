"""Images → latents in the denoiser's (scaled, shifted) space, as a generation's are stored: resized
so the shorter side fits the base model's resolution, centre-cropped to a square, VAE-encoded (the
mode of the posterior, so the same image always gives the same latents)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from core.family import model_family


class LatentEncoder:
    def __init__(self, base_model: str | Path, device: torch.device | None = None):
        from diffusers import AutoencoderKL

        base = Path(base_model)
        self.device = device or torch.device("cpu")
        self.vae = AutoencoderKL.from_pretrained(base / "vae", local_files_only=True).to(self.device).eval()
        factor = 2 ** (len(self.vae.config.block_out_channels) - 1)
        family = model_family(base)
        denoiser_config = json.loads((base / family.denoiser / "config.json").read_text())
        self.size = family.native_size(denoiser_config.get("sample_size"), factor, self.vae.config.sample_size)
        self.shape = (self.vae.config.latent_channels, self.size // factor, self.size // factor)

    def pixels(self, image: Image.Image) -> torch.Tensor:
        """RGB in [-1, 1], (3, size, size)."""
        scale = self.size / min(image.size)
        width, height = max(self.size, round(image.width * scale)), max(self.size, round(image.height * scale))
        image = image.resize((width, height), Image.Resampling.BICUBIC)
        left, top = (width - self.size) // 2, (height - self.size) // 2
        image = image.crop((left, top, left + self.size, top + self.size))
        array = np.asarray(image, dtype=np.float32) / 127.5 - 1.0
        return torch.from_numpy(array).permute(2, 0, 1)

    @torch.no_grad()
    def encode(self, images: list[Image.Image]) -> np.ndarray:
        batch = torch.stack([self.pixels(i) for i in images]).to(self.device, self.vae.dtype)
        latents = self.vae.encode(batch).latent_dist.mode()
        config = self.vae.config
        mean, std = getattr(config, "latents_mean", None), getattr(config, "latents_std", None)
        if mean is not None and std is not None:  # SDXL-style VAEs that normalise per channel
            shape = (1, -1, 1, 1)
            latents = (latents - torch.tensor(mean).view(shape)) * config.scaling_factor / torch.tensor(std).view(shape)
        else:  # SD3 and FLUX VAEs also shift
            latents = (latents - (getattr(config, "shift_factor", None) or 0.0)) * config.scaling_factor
        return latents.float().cpu().numpy()
