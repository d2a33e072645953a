"""One generated image with everything needed to train on it later."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

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

    def save(self, png: Path, npy: Path | None) -> None:
        """Write the PNG and (unless npy is None) the latents, each atomically and durably: a crash never
        leaves a row marked done pointing at an empty or half-written file."""
        files = [(png, lambda f: f.write(self.png_bytes()))]
        if npy is not None:
            files.append((npy, lambda f: np.save(f, self.latents)))
        for path, write in files:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".part")
            with open(tmp, "wb") as f:
                write(f)
                f.flush()
                os.fsync(f.fileno())
            tmp.replace(path)
            directory = os.open(path.parent, os.O_RDONLY)  # the rename itself survives a power cut
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
