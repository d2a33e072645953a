"""Image generation with any diffusers SD 1.x/2.x or SDXL pipeline directory."""
