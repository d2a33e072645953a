"""Automatic judges of text-to-image pairs: score(prompt, images) → floats (see base.py)."""
