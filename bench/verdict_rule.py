"""The labelers' verdict rule (core/verdict.py) on synthetic vote streams: how often it promotes a
candidate that is no better, and how many evaluation votes it takes to decide, by true win rate and
share of ties.

Run: .venv/bin/python bench/verdict_rule.py [--streams 10000] [--seed 0]

Each row: `--streams` seeded streams of votes (loss 0, tie ½, win 1) with the given mean, read by the
rule with the settings' defaults (DPOLOOP_VERDICT_*) until it decides or reaches the cap; "votes read"
counts a stream left undecided at the cap as the cap.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.settings import Settings  # noqa: E402
from core.verdict import PROMOTED, REJECTED, UNDECIDED, VerdictRule, decide  # noqa: E402

RATES = (0.30, 0.35, 0.45, 0.48, 0.50, 0.55, 0.60, 0.65, 0.70)
TIES = (0.0, 0.4)


def streams(rng: np.random.Generator, n: int, rate: float, tie: float, votes: int) -> np.ndarray:
    win = rate - tie / 2
    return rng.choice([0.0, 0.5, 1.0], p=[1 - tie - win, tie, win], size=(n, votes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rule = VerdictRule.from_settings(Settings())
    rng = np.random.default_rng(args.seed)
    print(f"rule: alpha {rule.alpha}, beta {rule.beta}, margin {rule.margin} (reject below {rule.reject_point}), "
          f"cap {rule.max_votes} votes; {args.streams} streams per row, seed {args.seed}")  # fmt: skip
    print("win rate  ties  promoted  rejected  undecided  votes read: median   p90   max")
    started = time.perf_counter()
    for rate in RATES:
        for tie in TIES:
            code, votes = decide(streams(rng, args.streams, rate, tie, rule.max_votes), rule)
            shares = [(code == c).mean() for c in (PROMOTED, REJECTED, UNDECIDED)]
            print(f"{rate:8.2f} {tie:5.0%} {shares[0]:9.2%} {shares[1]:9.2%} {shares[2]:10.2%} "
                  f"{np.median(votes):19.0f} {np.percentile(votes, 90):5.0f} {votes.max():5d}")  # fmt: skip
    print(f"({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
