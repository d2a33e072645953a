"""One generated image with everything needed to train on it later."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

from core.schemas.generation import GenerationParams


@dataclass
class GeneratedImage:
    """The PNG, the final latents before VAE decoding, and the exact parameters that made them."""

    params: GenerationParams  # seed, width and height resolved
    image: Image.Image
    latents: np.ndarray  # (C, h, w) float32, in the UNet's (scaled) latent space
    weights: str  # which weights made it: "base", or a description of the overlay

    def png_bytes(self) -> bytes:
        buffer = io.BytesIO()
        self.image.save(buffer, format="PNG")
        return buffer.getvalue()

    def latents_bytes(self) -> bytes:
        """The latents as a .npy file: dtype and shape travel with the numbers."""
        buffer = io.BytesIO()
        np.save(buffer, self.latents)
        return buffer.getvalue()
