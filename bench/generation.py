"""Generation speed of the embedded model on this machine: one pair, images/s at batch 1 and 8.

Baseline, in the same process: plain diffusers, one `pipe(prompt)` call per image with PIL output,
which is what a naive server would do. Prints figures and ratios; asserts nothing.

    .venv/bin/python bench/generation.py [--model DIR] [--repeats N] [--threads T]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def median_time(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    import torch

    from core.paths import EMBEDDED_MODEL_DIR
    from core.schemas.generation import GenerationParams
    from worker.generation.generator import Generator

    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, default=EMBEDDED_MODEL_DIR)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    started = time.perf_counter()
    generator = Generator(args.model)
    load_s = time.perf_counter() - started
    prompt = "a large red circle on the left, white background"

    def ours(n: int):
        requests = [GenerationParams(prompt=prompt, seed=i, num_inference_steps=args.steps) for i in range(n)]
        return lambda: generator.generate(requests)

    def baseline(n: int):
        def run():
            for i in range(n):
                generator.pipe(prompt, num_inference_steps=args.steps, guidance_scale=4.0,
                               generator=torch.Generator().manual_seed(i))  # fmt: skip

        return run

    pair_s = median_time(ours(2), args.repeats)
    batch1_s = median_time(ours(1), args.repeats)
    batch8_s = median_time(ours(8), args.repeats)
    base_pair_s = median_time(baseline(2), args.repeats)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    figures = {
        "model": str(args.model),
        "threads": args.threads,
        "steps": args.steps,
        "load_s": round(load_s, 3),
        "pair_s (2 images, one batch)": round(pair_s, 3),
        "pair_s baseline (2 separate pipe calls)": round(base_pair_s, 3),
        "pair speed-up vs baseline": round(base_pair_s / pair_s, 2),
        "images/s batch 1": round(1 / batch1_s, 2),
        "images/s batch 8": round(8 / batch8_s, 2),
        "batch 8 vs batch 1 throughput": round((8 / batch8_s) / (1 / batch1_s), 2),
        "peak RSS MB": round(peak_mb, 1),
    }
    training = args.model / "training.json"
    if training.exists():
        record = json.loads(training.read_text())
        figures["base-model UNet steps/s"] = record["unet_steps_per_second"]
        figures["base-model UNet training min"] = round(record["unet_train_seconds"] / 60, 1)
        figures["base-model VAE training min"] = round(record["vae"].get("vae_train_seconds", 0) / 60, 1)
    width = max(map(len, figures))
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
