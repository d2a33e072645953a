"""Diffusion-DPO: the objective, and training rounds on the votes."""
