"""Does one round learn? Diffusion-DPO settings swept on one fixed set of votes, curves side by side.

The votes: `--pairs` pairs of the embedded model (two seeds of one shipped prompt, the generation
defaults the pool uses), voted by `--policy` (worker/scenes/policies.py); the decisive ones are kept
and split into train and held-out pairs once (seed 0). They are cached in `--data`, so every
setting, in this run or a later one, trains on the same votes.

Each setting trains from the base model with the round's trainer (worker/dpo/trainer.py) for the
same compute: `--items` noised pairs, so steps = items / (batch_pairs × grad_accumulation ×
noise_draws). At `--points` places along the way, and at the start, it measures, on the held-out
pairs and on as many training pairs (fixed noise, stratified timesteps, `--draws` draws a pair):
- accuracy per draw: the share of (pair, draw) with the winner's margin > 0 (what a round's curve shows);
- accuracy per pair: the share of pairs whose margin, averaged over the draws, is > 0: the implicit
  reward is an expectation over noise and timestep, and a single draw at a high noise level is
  mostly noise, so this is the ranking the objective itself defines;
- each with Student's t 95% interval over pairs (per-pair values: the pairs are the independent unit);
- the winners' error drift against the reference (the collapse signature).
With `--judge-pairs N` the last weights are also judged by the policy on N fresh same-seed pairs
against the base (held-out prompts of the evaluation set), W/L/T and win rate with a tie as half.

    .venv/bin/python bench/dpo_sweep.py --policy larger --pairs 400 --items 3200 \\
        --grid '{"learning_rate": [2e-3, 5e-4, 1e-4], "noise_draws": [1, 4]}' --out sweep.json

`--grid` holds lists of DPOConfig values (every combination is a setting); `--set` fixes values for
all of them. Results append to `--out` (a setting already there is skipped: a stopped run resumes).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import random
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from core.paths import SHIPPED_EVAL_PROMPTS, SHIPPED_PROMPTS  # noqa: E402
from core.repo.prompts import read_prompt_file  # noqa: E402
from core.schemas.rounds import round_config  # noqa: E402

MODEL = REPO / "models" / "scenes-base"
BATCH = 16  # images per generation batch


def generate_votes(policy_name: str, pairs: int, path: Path) -> dict:
    """`pairs` same-prompt pairs of the base model voted by the policy; decisive ones saved in `path`."""
    from core.schemas.generation import GenerationParams
    from worker.generation.generator import Generator
    from worker.scenes.policies import get_policy

    policy, generator = get_policy(policy_name), Generator(MODEL)
    prompts = read_prompt_file(SHIPPED_PROMPTS)
    rng = random.Random(0)
    kept = {"prompt": [], "winner": [], "loser": []}
    outcomes: dict[str, int] = {}
    started = time.perf_counter()
    for start in range(0, pairs, BATCH // 2):
        chosen = [rng.choice(prompts) for _ in range(min(BATCH // 2, pairs - start))]
        requests = [GenerationParams(prompt=p, seed=2 * (start + i) + side) for i, p in enumerate(chosen)
                    for side in (0, 1)]  # fmt: skip
        images = generator.generate(requests)
        for i, prompt in enumerate(chosen):
            a, b = images[2 * i], images[2 * i + 1]
            choice = policy.choose(a.image, b.image, prompt)
            outcomes[choice] = outcomes.get(choice, 0) + 1
            if choice in ("left", "right"):
                winner, loser = (a, b) if choice == "left" else (b, a)
                kept["prompt"].append(prompt)
                kept["winner"].append(winner.latents)
                kept["loser"].append(loser.latents)
        print(f"  {start + len(chosen)} pairs voted ({time.perf_counter() - started:.0f} s): {outcomes}", flush=True)
    np.savez_compressed(path, prompt=np.array(kept["prompt"]), winner=np.stack(kept["winner"]),
                        loser=np.stack(kept["loser"]), policy=policy_name, outcomes=json.dumps(outcomes))  # fmt: skip
    return outcomes


def load_votes(path: Path, held_out_share: float):
    from worker.dpo.trainer import TrainingPair

    data = np.load(path)
    sides = zip(data["prompt"], data["winner"], data["loser"], strict=True)
    pairs = [TrainingPair(str(prompt), winner, loser) for prompt, winner, loser in sides]
    order = list(range(len(pairs)))
    random.Random(0).shuffle(order)
    cut = round(len(pairs) * held_out_share)
    return [pairs[i] for i in order[cut:]], [pairs[i] for i in order[:cut]], str(data["policy"])


def interval(values) -> dict:
    """Mean and Student's t 95% interval over per-pair values."""
    from scipy import stats

    values = np.asarray(values, dtype=np.float64)
    mean = float(values.mean())
    half = float(stats.t.ppf(0.975, values.size - 1) * values.std(ddof=1) / math.sqrt(values.size))
    return {"mean": mean, "low": mean - half, "high": mean + half}


def measure(trainer, pairs, draws: int) -> dict:
    held = trainer.evaluate(pairs, draws=draws)
    margins = np.asarray(held["held_out_reward_margin_by_pair"])
    ranked = (margins > 0) + 0.5 * (margins == 0)
    return {"per_draw": interval(held["held_out_implicit_accuracy_by_pair"]), "per_pair": interval(ranked),
            "margin": float(np.median(margins)),
            "winner_drift": interval(held["held_out_winner_drift_by_pair"])}  # fmt: skip


def judge(trainer, policy_name: str, count: int, base_images: dict) -> dict:
    """The trained weights against the base: same seed, held-out prompts, the policy decides."""
    import torch

    from core.schemas.generation import GenerationParams
    from worker.generation.generator import Generator
    from worker.scenes.policies import get_policy

    policy, prompts = get_policy(policy_name), read_prompt_file(SHIPPED_EVAL_PROMPTS)
    generator = Generator.from_pipeline(trainer.pipe, trainer.family)
    requests = [GenerationParams(prompt=prompts[i % len(prompts)], seed=90_000 + i) for i in range(count)]
    if "images" not in base_images:
        trainer.denoiser.disable_adapters()  # the base: the LoRA off
        try:
            base_images["images"] = render(generator, requests)
        finally:
            trainer.denoiser.enable_adapters()
    trainer.denoiser.eval()
    with torch.no_grad():
        new = render(generator, requests)
    tally = {"left": 0, "right": 0, "tie": 0, "both_bad": 0}
    for request, mine, base in zip(requests, new, base_images["images"], strict=True):
        tally[policy.choose(mine, base, request.prompt)] += 1
    ties = tally["tie"] + tally["both_bad"]
    return {"wins": tally["left"], "losses": tally["right"], "ties": ties,
            "win_rate": (tally["left"] + 0.5 * ties) / count}  # fmt: skip


def render(generator, requests) -> list:
    return [r.image for s in range(0, len(requests), BATCH) for r in generator.generate(requests[s : s + BATCH])]


def spread(measured: dict) -> str:
    p = measured["per_pair"]
    return f"{p['mean']:.3f} [{p['low']:.2f}, {p['high']:.2f}]"


def run_setting(setting: dict, train, held, args, base_images: dict) -> dict:
    import torch

    from worker.dpo.trainer import DPOTrainer
    from worker.generation.loading import load_pipeline

    torch.manual_seed(0)
    pipe, family = load_pipeline(MODEL)
    pipe.set_progress_bar_config(disable=True)
    config = round_config("scenes", args.fixed, setting, {"steps": 1})
    per_step = config.batch_pairs * config.grad_accumulation * config.noise_draws
    steps = max(1, args.items // per_step)
    config = config.model_copy(update={"steps": steps})
    trainer = DPOTrainer(pipe, family, config)
    probe = random.Random(1).sample(train, min(len(held), len(train)))  # training pairs, measured as held-out ones
    marks = sorted({round(steps * k / args.points) for k in range(1, args.points + 1)})
    curve, losses, started = [], [], time.perf_counter()

    def point(step: int) -> None:
        entry = {"step": step, "items": step * per_step, "seconds": round(time.perf_counter() - started, 1),
                 "held_out": measure(trainer, held, args.draws),
                 "train": measure(trainer, probe, args.draws)}  # fmt: skip
        if losses:
            window = losses[-max(1, steps // args.points) :]
            entry["loss_median"] = float(np.median([m["loss"] for m in window]))
            entry["batch_accuracy"] = float(np.mean([m["implicit_accuracy"] for m in window]))
        curve.append(entry)
        h, t = entry["held_out"], entry["train"]
        print(f"    step {step:4d}  loss {entry.get('loss_median', math.log(2)):.3f}  train per pair {spread(t)}  "
              f"held-out per pair {spread(h)} per draw {h['per_draw']['mean']:.3f}  "
              f"drift {h['winner_drift']['mean']:+.4f}", flush=True)  # fmt: skip

    point(0)
    while trainer.step_count < steps:
        losses.append(trainer.train_step(trainer.sample_batches(train)))
        if trainer.step_count in marks:
            point(trainer.step_count)
    result = {"setting": setting, "config": config.model_dump(include=set(setting) | set(args.fixed) | {
        "learning_rate", "beta", "batch_pairs", "grad_accumulation", "noise_draws", "steps"}),
              "curve": curve, "train_seconds": round(time.perf_counter() - started, 1)}  # fmt: skip
    if args.judge_pairs:
        result["judge"] = judge(trainer, args.policy, args.judge_pairs, base_images)
        j = result["judge"]
        print(f"    judged: {j['wins']} W / {j['losses']} L / {j['ties']} T = {j['win_rate']:.1%}", flush=True)
    return result


def settings_of(grid: dict) -> list[dict]:
    keys = sorted(grid)
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*(grid[k] for k in keys))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--policy", default="larger")
    parser.add_argument("--pairs", type=int, default=400, help="pairs to generate and vote (once, cached)")
    parser.add_argument("--data", type=Path, default=None, help="the vote cache (.npz)")
    parser.add_argument("--held-out-share", type=float, default=0.2)
    parser.add_argument("--items", type=int, default=3200, help="noised pairs of training per setting")
    parser.add_argument("--points", type=int, default=4, help="measurements along the way")
    parser.add_argument("--draws", type=int, default=8, help="noise draws per pair when measuring")
    parser.add_argument("--grid", type=json.loads, default={"learning_rate": [2e-3]})
    parser.add_argument("--set", dest="fixed", type=json.loads, default={})
    parser.add_argument("--judge-pairs", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    data = args.data or Path(f"/tmp/dpoloop-sweep-{args.policy}-{args.pairs}.npz")
    if not data.exists():
        print(f"voting {args.pairs} pairs by {args.policy!r} into {data}", flush=True)
        generate_votes(args.policy, args.pairs, data)
    train, held, policy = load_votes(data, args.held_out_share)
    if policy != args.policy:
        sys.exit(f"{data} holds votes by {policy!r}, not {args.policy!r}")
    print(f"{len(train)} train pairs, {len(held)} held out ({data})", flush=True)
    done = json.loads(args.out.read_text()) if args.out.exists() else []
    base_images: dict = {}
    for setting in settings_of(args.grid):
        key = {**args.fixed, **setting}
        if any(r["setting"] == key and r.get("items") == args.items and r.get("policy") == args.policy for r in done):
            print(f"  {key}: already measured", flush=True)
            continue
        print(f"  {key}", flush=True)
        result = run_setting(setting, train, held, args, base_images)
        result.update(
            setting=key, items=args.items, policy=args.policy, train_pairs=len(train), held_out_pairs=len(held)
        )
        done.append(result)
        args.out.write_text(json.dumps(done, indent=1))
    print_table(done)


def print_table(results: list[dict]) -> None:
    print("\nsetting | steps | held-out per pair [95%] | per draw | train per pair | drift | judge W/L/T")
    for r in results:
        last = r["curve"][-1]
        h, t = last["held_out"], last["train"]
        j = r.get("judge")
        judged = f"{j['wins']}/{j['losses']}/{j['ties']} {j['win_rate']:.0%}" if j else "-"
        print(
            f"{json.dumps(r['setting'])} | {last['step']} | {spread(h)} | {h['per_draw']['mean']:.3f} | "
            f"{t['per_pair']['mean']:.3f} | {h['winner_drift']['mean']:+.4f} | {judged}"
        )


if __name__ == "__main__":
    main()
