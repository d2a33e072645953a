"""A round loads at most max_pairs pairs, newest first, with the held-out split kept per comparison."""

import numpy as np

from core.preferences import PreferencePair, Preferences, is_held_out_pair
from worker.rounds.data import load_pairs


def history(tmp_path, count: int) -> Preferences:
    preferences = Preferences()
    for cid in range(1, count + 1):
        for side in ("w", "l"):
            np.save(tmp_path / f"{cid}{side}.npy", np.full((4, 2, 2), cid, np.float32))
        preferences.pairs.append(PreferencePair(cid, f"prompt {cid}", f"{cid}w.npy", f"{cid}l.npy", 1, 0))
    return preferences


def test_only_the_newest_pairs_are_loaded(tmp_path):
    data = load_pairs(history(tmp_path, 50), tmp_path.joinpath, held_out_share=0.2, max_pairs=12)
    loaded = sorted(int(p.winner[0, 0, 0]) for p in data.train + data.held_out)
    assert loaded == list(range(39, 51)) and data.counts["pairs_beyond_max"] == 38
    held = {int(p.winner[0, 0, 0]) for p in data.held_out}
    assert held == {cid for cid in range(39, 51) if is_held_out_pair(cid, 0.2)} == {39, 40, 42}


def test_memory_is_flat_in_the_history(tmp_path):
    small = load_pairs(history(tmp_path, 20), tmp_path.joinpath, held_out_share=0.1, max_pairs=10)
    large = load_pairs(history(tmp_path, 200), tmp_path.joinpath, held_out_share=0.1, max_pairs=10)
    assert len(small.train) + len(small.held_out) == len(large.train) + len(large.held_out) == 10
