"""Save and restore a training run's state (weights, optimizer, counters and both random generators),
so that a run stopped anywhere continues as if it had never stopped."""

from __future__ import annotations

import random
from pathlib import Path

import torch


def save_state(path: Path, rng: random.Random, **fields) -> None:
    """Write atomically: a run killed mid-save leaves the previous state intact."""
    tmp = path.with_suffix(".tmp")
    torch.save({**fields, "torch_rng": torch.get_rng_state(), "py_rng": rng.getstate()}, tmp)
    tmp.replace(path)


def load_state(path: Path, rng: random.Random) -> dict | None:
    """The saved fields, with torch's and `rng`'s random state restored; None when nothing is saved."""
    if not path.exists():
        return None
    state = torch.load(path, weights_only=False)
    torch.set_rng_state(state["torch_rng"])
    rng.setstate(state["py_rng"])
    return state
