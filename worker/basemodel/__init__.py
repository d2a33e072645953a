"""The small embedded base model: a Stable-Diffusion-shaped pipeline trained here on the scene world."""
