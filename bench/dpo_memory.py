"""Peak memory of a Diffusion-DPO training step: the LoRA reference by disabled adapters against a
second copy, and a full fine-tune, for each model family at its real size (random weights).

Three setups, each measured in a fresh subprocess (this script re-invokes itself with --setup):

  (a) lora-shared: LoRA rank 8 on to_q/to_k/to_v/to_out.0; the reference is the same denoiser with
      its adapters disabled (dpoloop's default, DPOTrainer with method "lora").
  (b) lora-copy:   the same LoRA, with a separate frozen reference (copy.deepcopy).
  (c) full-copy:   full fine-tune with a frozen reference copy and AdamW (the reference code's shape).

Families (bench/family_shapes.py): sd15 (UNet 860M, the default), sdxl (UNet 2.6B), sd3 (transformer
2B), flux (transformer 12B). The prompt is encoded once by the pipeline's own encoders, which are
then dropped; one pair per step (the denoiser sees a batch of 2), random latents, the family's own
noising and target (worker/dpo/noising.py), the loss from worker/dpo/objective.py, AdamW (lr 1e-5),
trainable weights in fp32 as DPOTrainer keeps them, no gradient checkpointing.
On CPU (fp32) the peak is the subprocess's ru_maxrss; on CUDA (bf16 weights, bf16 autocast) it is
torch.cuda.max_memory_allocated. "built" is the memory right after the denoiser is ready.

On CPU, latents default to 16×16 (128×128 images for SD 1.5) to keep the run near 5 minutes on 2
cores; a full SD 1.5 fine-tune holds fp32 weights + frozen copy + grads + AdamW moments ≈ 17 GB,
and SDXL/SD3/FLUX at real size do not fit a 24 GB CPU machine in fp32 (their setups report failed).

    .venv/bin/python bench/dpo_memory.py [--family sd15] [--device cpu|cuda] [--latent 16] [--steps 2]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

SETUPS = {
    "lora-shared": "(a) LoRA r8, reference = adapters disabled",
    "lora-copy": "(b) LoRA r8, reference = frozen deepcopy",
    "full-copy": "(c) full fine-tune + AdamW, frozen deepcopy",
}
LORA_TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]
BETA = 5000.0


def memory_mb(device: str) -> float:
    import torch

    return torch.cuda.memory_allocated() / 2**20 if device == "cuda" else rss_mb()


def peak_mb(device: str) -> float:
    import torch

    return torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else peak_rss_mb()


def rss_mb() -> float:
    """Current resident set size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def measure(setup: str, family: str, scale: str, device: str, latent: int, steps: int) -> dict:
    """Build the denoiser for `setup`, run `steps` DPO steps on one pair; the figures of this process."""
    import contextlib
    import copy
    import gc

    import torch
    from family_shapes import build

    from worker.dpo.conditioning import PromptEncoder
    from worker.dpo.noising import noising_for
    from worker.dpo.objective import denoising_error, diffusion_dpo_loss

    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    started = time.perf_counter()
    pipe, fam = build(family, scale, device, dtype)
    factor = pipe.vae_scale_factor
    cond = PromptEncoder(pipe, fam, guidance=3.5).batch(["a large red circle"], latent * factor, latent * factor)
    cond = cond.repeat(2)
    channels = pipe.vae.config.latent_channels
    noising = noising_for(fam, pipe.scheduler.config)
    unet = getattr(pipe, fam.denoiser)
    for name in ("vae", "text_encoder", "text_encoder_2", "text_encoder_3"):  # encoded once: not part of a step
        if getattr(pipe, name, None) is not None:
            setattr(pipe, name, None)
    del pipe
    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    unet.requires_grad_(False)
    build_s = time.perf_counter() - started
    built = memory_mb(device)
    reference = None
    if setup in ("lora-copy", "full-copy"):
        reference = copy.deepcopy(unet).eval()
    if setup.startswith("lora"):
        from peft import LoraConfig

        unet.add_adapter(LoraConfig(r=8, lora_alpha=8, init_lora_weights="gaussian", target_modules=LORA_TARGETS))
    else:
        unet.requires_grad_(True)
    params = [p for p in unet.parameters() if p.requires_grad]
    for p in params:
        p.data = p.data.float()  # as DPOTrainer keeps trainable weights
    optimizer = torch.optim.AdamW(params, lr=1e-5)

    def autocast():
        return torch.autocast("cuda", dtype=torch.bfloat16) if device == "cuda" else contextlib.nullcontext()

    def reference_predict(noisy, timesteps):
        with torch.no_grad(), autocast():
            if reference is not None:
                return cond.predict(reference, noisy, timesteps)
            unet.disable_adapters()
            try:
                return cond.predict(unet, noisy, timesteps)
            finally:
                unet.enable_adapters()

    unet.train()
    step_times = []
    generator = torch.Generator().manual_seed(0)
    for _ in range(steps):
        started = time.perf_counter()
        latents = torch.randn(2, channels, latent, latent, generator=generator).to(device)  # [winner; loser]
        noise = torch.randn(1, channels, latent, latent, generator=generator).repeat(2, 1, 1, 1).to(device)
        timesteps = noising.timesteps(1, generator).repeat(2).to(device)
        noisy = noising.noised(latents, noise, timesteps).to(dtype)
        target = noising.target(latents, noise, timesteps)
        with autocast():
            model_pred = cond.predict(unet, noisy, timesteps)
        ref_pred = reference_predict(noisy, timesteps)
        model_err_w, model_err_l = denoising_error(model_pred, target).chunk(2)
        ref_err_w, ref_err_l = denoising_error(ref_pred, target).chunk(2)
        loss = diffusion_dpo_loss(model_err_w, model_err_l, ref_err_w, ref_err_l, BETA).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device == "cuda":
            torch.cuda.synchronize()
        step_times.append(time.perf_counter() - started)
    return {
        "setup": setup,
        "family": family,
        "unet_params_M": sum(p.numel() for n, p in unet.named_parameters() if "lora_" not in n) / 1e6,
        "trainable_params_M": sum(p.numel() for p in params) / 1e6,
        "build_s": build_s,
        "step_s": min(step_times),
        "built_rss_mb": built,
        "peak_rss_mb": peak_mb(device),
    }


def run_fresh(setup: str, args) -> dict:
    """`measure` in a new Python process, so one setup's peak does not hide another's."""
    command = [sys.executable, __file__, "--setup", setup, "--latent", str(args.latent), "--steps", str(args.steps),
               "--threads", str(args.threads), "--family", args.family, "--scale", args.scale,
               "--device", args.device]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        return {"setup": setup, "error": f"exit {done.returncode}: {done.stderr.strip()[-300:]}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latent", type=int, default=16, help="latent side (C×N×N); 16 keeps the CPU run near 5 min")
    parser.add_argument("--family", choices=["sd15", "sdxl", "sd3", "flux"], default="sd15")
    parser.add_argument("--scale", choices=["real", "tiny"], default="real", help="tiny: check the code path fast")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--setup", choices=SETUPS, help="measure one setup in this process (used internally)")
    parser.add_argument("--only", choices=SETUPS, nargs="+", default=list(SETUPS))
    args = parser.parse_args()
    if args.setup:
        import torch

        torch.set_num_threads(args.threads)
        print(json.dumps(measure(args.setup, args.family, args.scale, args.device, args.latent, args.steps)))
        return

    size = f"{args.latent}×{args.latent}"
    precision = "bf16 CUDA" if args.device == "cuda" else "fp32 CPU"
    print(f"{args.family} ({args.scale} size) denoiser, {precision}, 1 pair (batch 2), latents {size}, its own text "
          f"conditioning, {args.steps} steps, one fresh process per setup, no gradient checkpointing")  # fmt: skip
    started = time.perf_counter()
    results = {setup: run_fresh(setup, args) for setup in args.only}
    memory = "GPU MB" if args.device == "cuda" else "RSS MB"
    header = f"{'setup':<46} {'trainable M':>11} {'built ' + memory:>12} {'peak ' + memory:>11} {'min step s':>10}"
    print(header)
    for setup, r in results.items():
        if "error" in r:
            print(f"{SETUPS[setup]:<46} failed: {r['error']}")
            continue
        print(f"{SETUPS[setup]:<46} {r['trainable_params_M']:>11.1f} {r['built_rss_mb']:>12.0f} "
              f"{r['peak_rss_mb']:>11.0f} {r['step_s']:>10.2f}")  # fmt: skip
    peak = {setup: r.get("peak_rss_mb") for setup, r in results.items()}
    if peak.get("lora-shared") and peak.get("lora-copy"):
        print(f"peak (a)/(b): {peak['lora-shared'] / peak['lora-copy']:.2f}  (goal ≤ 0.75)")
        bytes_per = 2 if args.device == "cuda" else 4
        unet_mb = results["lora-shared"]["unet_params_M"] * 1e6 * bytes_per / 2**20
        extra = peak["lora-copy"] - peak["lora-shared"]
        print(f"peak (b) - (a): {extra:.0f} MB  (one copy of the denoiser: {unet_mb:.0f} MB)")
    if peak.get("lora-shared") and peak.get("full-copy"):
        print(f"peak (a)/(c): {peak['lora-shared'] / peak['full-copy']:.2f}")
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
