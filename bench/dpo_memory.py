"""Peak memory (RSS) of a Diffusion-DPO training step with an SD 1.5-sized UNet, on CPU in fp32.

Three setups, each measured in a fresh subprocess (this script re-invokes itself with --setup):

  (a) lora-shared: LoRA rank 8 on to_q/to_k/to_v/to_out.0; the reference is the same UNet with its
      adapters disabled (dpoloop's default, DPOTrainer with method "lora").
  (b) lora-copy:   the same LoRA, with a separate frozen reference UNet (copy.deepcopy).
  (c) full-copy:   full fine-tune with a frozen reference copy and AdamW (the reference code's shape).

The UNet is built from SD 1.5's config (about 860M parameters) with random weights; one pair per
step (the UNet sees a batch of 2), random latents and random 77×768 text embeddings, epsilon
target, the loss from worker/dpo/objective.py, AdamW (lr 1e-5), no gradient checkpointing.
Peak RSS is the subprocess's ru_maxrss; it is reported with the RSS right after the UNet is built.

Latents default to 4×16×16 (128×128 images) to keep the run near 5 minutes on 2 cores; the full
fine-tune (c) runs at full size (all 860M parameters trainable, fp32 weights + frozen copy + grads +
AdamW moments ≈ 17 GB). `--latent 32` adds about 1.2 GB of activations to each setup and minutes.

    .venv/bin/python bench/dpo_memory.py [--latent 16] [--steps 2] [--threads 2]
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

SD15_UNET = {
    "sample_size": 64,
    "in_channels": 4,
    "out_channels": 4,
    "block_out_channels": (320, 640, 1280, 1280),
    "layers_per_block": 2,
    "cross_attention_dim": 768,
    "attention_head_dim": 8,
    "down_block_types": ("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    "up_block_types": ("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
}
SETUPS = {
    "lora-shared": "(a) LoRA r8, reference = adapters disabled",
    "lora-copy": "(b) LoRA r8, reference = frozen deepcopy",
    "full-copy": "(c) full fine-tune + AdamW, frozen deepcopy",
}
LORA_TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]
BETA = 5000.0


def rss_mb() -> float:
    """Current resident set size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def measure(setup: str, latent: int, steps: int) -> dict:
    """Build the UNet for `setup`, run `steps` DPO steps on one pair; the figures of this process."""
    import copy

    import torch
    from diffusers import DDPMScheduler, UNet2DConditionModel

    from worker.dpo.objective import denoising_error, diffusion_dpo_loss

    torch.manual_seed(0)
    started = time.perf_counter()
    unet = UNet2DConditionModel(**SD15_UNET)
    unet.requires_grad_(False)
    build_s = time.perf_counter() - started
    built_rss = rss_mb()
    reference = None
    if setup in ("lora-copy", "full-copy"):
        reference = copy.deepcopy(unet).eval()
    if setup.startswith("lora"):
        from peft import LoraConfig

        unet.add_adapter(LoraConfig(r=8, lora_alpha=8, init_lora_weights="gaussian", target_modules=LORA_TARGETS))
    else:
        unet.requires_grad_(True)
    params = [p for p in unet.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-5)
    scheduler = DDPMScheduler(num_train_timesteps=1000, beta_schedule="scaled_linear", beta_start=0.00085,
                              beta_end=0.012)  # fmt: skip

    def reference_predict(noisy, timesteps, hidden):
        with torch.no_grad():
            if reference is not None:
                return reference(noisy, timesteps, encoder_hidden_states=hidden).sample
            unet.disable_adapters()
            try:
                return unet(noisy, timesteps, encoder_hidden_states=hidden).sample
            finally:
                unet.enable_adapters()

    unet.train()
    step_times = []
    for _ in range(steps):
        started = time.perf_counter()
        latents = torch.randn(2, 4, latent, latent)  # [winner; loser]
        hidden = torch.randn(1, 77, 768).repeat(2, 1, 1)
        noise = torch.randn(1, 4, latent, latent).repeat(2, 1, 1, 1)
        timesteps = torch.randint(0, 1000, (1,)).repeat(2)
        noisy = scheduler.add_noise(latents, noise, timesteps)
        model_pred = unet(noisy, timesteps, encoder_hidden_states=hidden).sample
        ref_pred = reference_predict(noisy, timesteps, hidden)
        model_err_w, model_err_l = denoising_error(model_pred, noise).chunk(2)
        ref_err_w, ref_err_l = denoising_error(ref_pred, noise).chunk(2)
        loss = diffusion_dpo_loss(model_err_w, model_err_l, ref_err_w, ref_err_l, BETA).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        step_times.append(time.perf_counter() - started)
    return {
        "setup": setup,
        "unet_params_M": sum(p.numel() for n, p in unet.named_parameters() if "lora_" not in n) / 1e6,
        "trainable_params_M": sum(p.numel() for p in params) / 1e6,
        "build_s": build_s,
        "step_s": min(step_times),
        "built_rss_mb": built_rss,
        "peak_rss_mb": peak_rss_mb(),
    }


def run_fresh(setup: str, latent: int, steps: int, threads: int) -> dict:
    """`measure` in a new Python process, so one setup's peak does not hide another's."""
    command = [sys.executable, __file__, "--setup", setup, "--latent", str(latent), "--steps", str(steps),
               "--threads", str(threads)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        return {"setup": setup, "error": f"exit {done.returncode}: {done.stderr.strip()[-300:]}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latent", type=int, default=16, help="latent side (4×N×N); 16 keeps the run near 5 min")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--setup", choices=SETUPS, help="measure one setup in this process (used internally)")
    parser.add_argument("--only", choices=SETUPS, nargs="+", default=list(SETUPS))
    args = parser.parse_args()
    if args.setup:
        import torch

        torch.set_num_threads(args.threads)
        print(json.dumps(measure(args.setup, args.latent, args.steps)))
        return

    size = f"{args.latent}×{args.latent}"
    print(f"SD 1.5-sized UNet, fp32 CPU, 1 pair (UNet batch 2), latents 4×{size}, 77×768 text embeddings,")
    print(f"{args.steps} steps, {args.threads} threads, one fresh process per setup, no gradient checkpointing")
    started = time.perf_counter()
    results = {setup: run_fresh(setup, args.latent, args.steps, args.threads) for setup in args.only}
    header = f"{'setup':<46} {'trainable M':>11} {'built RSS MB':>12} {'peak RSS MB':>11} {'min step s':>10}"
    print(header)
    for setup, r in results.items():
        if "error" in r:
            print(f"{SETUPS[setup]:<46} failed: {r['error']}")
            continue
        print(f"{SETUPS[setup]:<46} {r['trainable_params_M']:>11.1f} {r['built_rss_mb']:>12.0f} "
              f"{r['peak_rss_mb']:>11.0f} {r['step_s']:>10.1f}")  # fmt: skip
    peak = {setup: r.get("peak_rss_mb") for setup, r in results.items()}
    if peak.get("lora-shared") and peak.get("lora-copy"):
        print(f"peak RSS (a)/(b): {peak['lora-shared'] / peak['lora-copy']:.2f}  (goal ≤ 0.75)")
        unet_mb = results["lora-shared"]["unet_params_M"] * 1e6 * 4 / 2**20
        extra = peak["lora-copy"] - peak["lora-shared"]
        print(f"peak RSS (b) - (a): {extra:.0f} MB  (one fp32 copy of the UNet: {unet_mb:.0f} MB)")
    if peak.get("lora-shared") and peak.get("full-copy"):
        print(f"peak RSS (a)/(c): {peak['lora-shared'] / peak['full-copy']:.2f}")
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
