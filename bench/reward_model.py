"""How well, and how fast, the preference model (worker/reward/) learns a labeler from its votes.

The votes: `--pairs` same-prompt pairs of the embedded model voted by each `--policy` (the simulated
labelers of worker/scenes/policies.py), made and cached as bench/dpo_sweep.py makes them. For each
policy, `--splits` random train/held-out splits (`--held-out` share); on each, the production model
(features + fit, FitSettings' defaults) and two baselines fitted in the same process on the same split:
a linear Bradley-Terry model on the same features, and the MLP without the prompt. Printed: the
seconds to make features (text encoder loaded fresh) and fit the production model on `--timing-pairs`
pairs (the voted ones repeated when fewer: the cost depends on how many, not on what they show), and
held-out accuracy per variant as the median and range over splits.

    .venv/bin/python bench/reward_model.py --policy larger --policy smaller --policy left --pairs 400
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from dpo_sweep import MODEL, generate_votes  # noqa: E402

from worker.reward.features import PromptFeatures, image_features  # noqa: E402
from worker.reward.fit import FeaturePairs, FitSettings, accuracy, fit  # noqa: E402


def subset(pairs: FeaturePairs, rows: np.ndarray, prompt: bool = True) -> FeaturePairs:
    prompts = pairs.prompt[rows] if prompt else np.zeros((len(rows), 1), np.float32)
    return FeaturePairs(pairs.winner[rows], pairs.loser[rows], prompts)


def timed_fit(votes, count: int) -> dict:
    """Seconds to make the features (text encoder loaded fresh) and fit the production model on `count`
    pairs: the voted pairs, repeated in order when `count` is larger (the cost depends on the number of
    pairs and their shapes, not on their content)."""
    rows = np.resize(np.arange(len(votes["prompt"])), count)
    started = time.perf_counter()
    prompts = PromptFeatures(MODEL)
    pairs = FeaturePairs(image_features(votes["winner"][rows]), image_features(votes["loser"][rows]),
                         prompts([str(p) for p in votes["prompt"][rows]]))  # fmt: skip
    features_s = time.perf_counter() - started
    started = time.perf_counter()
    fit(pairs)
    return {"pairs": count, "features_s": features_s, "fit_s": time.perf_counter() - started}


def one_policy(policy: str, count: int, splits: int, held_out: float, timing_pairs: int | None = None) -> dict:
    data = Path(f"/tmp/dpoloop-sweep-{policy}-{count}.npz")
    if not data.exists():
        print(f"voting {count} pairs by {policy!r} into {data}", flush=True)
        generate_votes(policy, count, data)
    votes = np.load(data)
    timing = timed_fit(votes, timing_pairs or len(votes["prompt"]))
    prompts = PromptFeatures(MODEL)
    pairs = FeaturePairs(
        image_features(votes["winner"]), image_features(votes["loser"]), prompts(list(votes["prompt"]))
    )
    variants = {"production": (FitSettings(), True), "linear": (FitSettings(hidden=0), True),
                "no prompt": (FitSettings(), False)}  # fmt: skip
    scores: dict[str, list[float]] = {name: [] for name in variants}
    for split in range(splits):
        order = np.random.default_rng(split).permutation(len(pairs))
        cut = round(len(pairs) * held_out)
        held, train = order[:cut], order[cut:]
        for name, (settings, with_prompt) in variants.items():
            model = fit(subset(pairs, train, with_prompt), FitSettings(**{**vars(settings), "seed": split}))
            scores[name].append(accuracy(model, subset(pairs, held, with_prompt)))
    result = {"policy": policy, "pairs_voted": count, "decisive": len(pairs), "timing": timing,
              "outcomes": json.loads(str(votes["outcomes"])), "held_out": scores}  # fmt: skip
    line = "  ".join(f"{name} {np.median(v):.3f} [{min(v):.3f}, {max(v):.3f}]" for name, v in scores.items())
    print(f"{policy:8s} {len(pairs):5d} decisive pairs; on {timing['pairs']} pairs: features "
          f"{timing['features_s']:5.1f} s, fit {timing['fit_s']:5.1f} s; held-out accuracy, median [range] over "
          f"{splits} splits: {line}", flush=True)  # fmt: skip
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--policy", action="append", default=None)
    parser.add_argument("--pairs", type=int, default=1000)
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--held-out", type=float, default=0.2)
    parser.add_argument("--timing-pairs", type=int, default=1000, help="pairs the timed fit runs on")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    results = [one_policy(p, args.pairs, args.splits, args.held_out, args.timing_pairs)
               for p in args.policy or ["larger"]]  # fmt: skip
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
