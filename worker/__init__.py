"""dpoloop workers: everything that touches torch and diffusers lives under this package."""
