"""The GPU check: a few minutes on one GPU, nothing downloaded. For SD 1.5-, SDXL- and FLUX.1-shaped
pipelines with random weights at their real sizes (bench/family_shapes.py), in bf16, one family at a time:

1. generation: images/s at the family's native size (512 px SD 1.5, 1024 px SDXL and FLUX),
   one batch of --images, --gen-steps sampler steps;
2. a DPO step, ours (DPOTrainer: stored latents, cached text conditioning, LoRA reference by disabled
   adapters) against the reference code's shape (VAE encode and text encoders every step, a frozen
   second copy of the denoiser) — bench/dpo_train_step.py's ReferenceShapedStep — on --pairs pairs,
   medians of --steps steps after 2 warm-up steps, gradient checkpointing on (the families' default);
3. peak GPU memory of each of the two steps (torch.cuda.max_memory_allocated; the baseline shares
   the frozen encoders and the denoiser's base weights with ours, so its extra is the second copy).

    .venv/bin/python bench/gpu_check.py [--families sd15 sdxl flux] [--pairs 1] [--steps 4]
    .venv/bin/python bench/gpu_check.py --device cpu --scale tiny      # the code path, on a CPU

Record the figures in docs/model-families.md ("On a GPU") with the card they ran on.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


def _peak_reset(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def _peak_gb(device) -> float | None:
    import torch

    return torch.cuda.max_memory_allocated() / 1e9 if device.type == "cuda" else None


def _median_step(step, steps: int, device) -> float:
    for _ in range(2):
        step()
    times = []
    for _ in range(steps):
        started = time.perf_counter()
        step()
        _sync(device)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def check_family(family_name: str, args) -> dict:
    import torch
    from dpo_train_step import ReferenceShapedStep, stored_pairs
    from family_shapes import build

    from core.schemas.generation import GenerationParams
    from core.schemas.rounds import DPOConfig
    from worker.dpo.trainer import DPOTrainer
    from worker.generation.generator import Generator

    device = torch.device(args.device)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    started = time.perf_counter()
    pipe, family = build(family_name, args.scale, args.device, dtype)
    _sync(device)
    figures: dict = {"family": family_name, "build_s": round(time.perf_counter() - started, 1)}
    figures["denoiser_params_B"] = round(sum(p.numel() for p in getattr(pipe, family.denoiser).parameters()) / 1e9, 2)

    generator = Generator.from_pipeline(pipe, family)
    size = generator.default_size
    requests = [GenerationParams(prompt="a large red circle", seed=i, num_inference_steps=args.gen_steps,
                                 guidance_scale=3.5) for i in range(args.images)]  # fmt: skip
    generator.generate(requests[:1])  # warm-up
    _sync(device)
    started = time.perf_counter()
    generator.generate(requests)
    _sync(device)
    seconds = time.perf_counter() - started
    figures |= {"size_px": size, "gen_images_per_s": round(args.images / seconds, 3), "gen_steps": args.gen_steps}

    pairs = stored_pairs(pipe, family, args.pairs, random_latents=True)
    config = DPOConfig(batch_pairs=args.pairs, warmup_steps=0, gradient_checkpointing=True,
                       mixed_precision="bf16" if device.type == "cuda" else "no")  # fmt: skip
    denoiser = getattr(pipe, family.denoiser)
    _peak_reset(device)
    torch.manual_seed(0)
    trainer = DPOTrainer(pipe, family, config)

    def ours():
        denoiser.set_adapter("dpo")
        trainer.train_step(pairs)

    figures["ours_step_s"] = round(_median_step(ours, args.steps, device), 3)
    figures["ours_peak_gb"] = _peak_gb(device)

    _peak_reset(device)
    baseline = ReferenceShapedStep(pipe, family, config, pairs, adapter_name="baseline")
    figures["baseline_step_s"] = round(_median_step(baseline.train_step, args.steps, device), 3)
    figures["baseline_peak_gb"] = _peak_gb(device)
    figures["speed_up"] = round(figures["baseline_step_s"] / figures["ours_step_s"], 2)
    if figures["ours_peak_gb"]:
        figures["memory_ratio"] = round(figures["ours_peak_gb"] / figures["baseline_peak_gb"], 2)
        figures["ours_peak_gb"] = round(figures["ours_peak_gb"], 1)
        figures["baseline_peak_gb"] = round(figures["baseline_peak_gb"], 1)
    return figures  # the models go with this frame; main collects before the next family


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", nargs="+", default=["sd15", "sdxl", "flux"],
                        choices=["sd15", "sdxl", "sd3", "flux"])  # fmt: skip
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--scale", choices=["real", "tiny"], default="real")
    parser.add_argument("--pairs", type=int, default=1)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--gen-steps", type=int, default=20)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    device = torch.device(args.device)
    card = torch.cuda.get_device_name() if device.type == "cuda" else "cpu"
    print(f"device: {card}; torch {torch.__version__}; {args.scale} sizes, random weights, bf16 on CUDA", flush=True)
    rows = []
    for name in args.families:
        try:
            row = check_family(name, args)
        except torch.OutOfMemoryError as exc:  # a figure too: this step does not fit this card
            row = {"family": name, "error": f"out of memory: {str(exc).splitlines()[0]}"}
            gc.collect()
            _peak_reset(device)
        gc.collect()
        _peak_reset(device)
        rows.append(row)
        print(json.dumps(row), flush=True)
    header = ("family", "size_px", "gen_images_per_s", "ours_step_s", "baseline_step_s", "speed_up", "ours_peak_gb",
              "baseline_peak_gb", "memory_ratio")  # fmt: skip
    print(" | ".join(header))
    for row in rows:
        print(" | ".join(str(row.get(k, "—")) for k in header) + (f"  ({row['error']})" if "error" in row else ""))
    if args.json:
        args.json.write_text(json.dumps({"device": card, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
