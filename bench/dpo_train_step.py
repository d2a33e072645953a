"""Diffusion-DPO train-step speed: our step against the reference code's shape, for any model family.

Ours: `DPOTrainer` with LoRA (method "lora"). The latents were stored at generation time, the
text conditioning is computed once per prompt and cached by `PromptEncoder`, and the reference
is the same denoiser with its adapters disabled.

Baseline, written here and run in the same process on its own copy of the model: the shape of the
Diffusion-DPO reference code (SalesforceAIResearch/DiffusionDPO, train.py). Every step it
VAE-encodes both images of each pair (`vae.encode(pixels).latent_dist.sample()`, scaled and shifted
as the family's VAE wants; the pixel images are decoded once at setup from the same stored
latents), runs the family's text encoders on the captions again (CLIP; CLIP ×2 + T5 for SD3; CLIP +
T5 for FLUX), and runs a separate frozen reference denoiser (a deepcopy taken before the LoRA is
added). Same batch, same LoRA, same loss (`worker.dpo.objective`), same noising and target
(`worker.dpo.noising`: winner and loser share noise and timestep), same AdamW and clipping.

Both paths alternate in blocks of steps after a warm-up, so a busy machine slows both alike; the
figures are medians per step. A check (after the warm-up) feeds the baseline exactly our latents,
noise, timesteps, text conditioning and adapter weights (VAE bypassed) and prints |Δloss| (fp32:
must be ≤ 1e-6).

    .venv/bin/python bench/dpo_train_step.py [--model DIR] [--pairs N] [--steps N] [--threads T]
    .venv/bin/python bench/dpo_train_step.py --family flux --scale tiny    # random weights (bench/family_shapes.py)
    .venv/bin/python bench/dpo_train_step.py --family sdxl --device cuda --random-latents   # on a GPU
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

PROMPTS = [
    "a large red circle on the left, white background",
    "a small blue square in the center",
    "a green triangle on the right, gray background",
    "a medium yellow cross, black background",
]


def stored_pairs(pipe, family, count: int, random_latents: bool = False) -> list:
    """`count` pairs of latents as generation stores them: two seeds of one prompt per pair (or random
    latents of the model's native size, for random-weight models whose images mean nothing)."""
    import numpy as np

    from core.schemas.generation import GenerationParams
    from worker.dpo.trainer import TrainingPair
    from worker.generation.generator import Generator

    prompts = [PROMPTS[i % len(PROMPTS)] for i in range(count)]
    generator = Generator.from_pipeline(pipe, family)
    if random_latents:
        side = generator.default_size // pipe.vae_scale_factor
        rng = np.random.default_rng(0)
        shape = (pipe.vae.config.latent_channels, side, side)
        return [TrainingPair(p, *rng.standard_normal((2, *shape)).astype(np.float32)) for p in prompts]
    requests = [GenerationParams(prompt=p, seed=i, num_inference_steps=10, guidance_scale=4.0)
                for i, p in enumerate(p for p in prompts for _ in range(2))]  # fmt: skip
    latents = [r.latents for r in generator.generate(requests)]
    return [TrainingPair(p, latents[2 * i], latents[2 * i + 1]) for i, p in enumerate(prompts)]


def _vae_shift_scale(vae):
    return getattr(vae.config, "shift_factor", None) or 0.0, vae.config.scaling_factor


class ReferenceShapedStep:
    """One DPO step the way the reference code does it: VAE and text encoders every step, frozen copy."""

    def __init__(self, pipe, family, config, pairs, adapter_name: str = "dpo"):
        """adapter_name: its LoRA's name (another than ours when both share one pipeline to save memory)."""
        import numpy as np
        import torch
        from peft import LoraConfig

        from worker.dpo.noising import noising_for

        self.pipe, self.family, self.config = pipe, family, config
        self.noising = noising_for(family, pipe.scheduler.config)
        self.denoiser = getattr(pipe, family.denoiser)
        for name in ("vae", "text_encoder", "text_encoder_2", "text_encoder_3", family.denoiser):
            if getattr(pipe, name, None) is not None:
                getattr(pipe, name).requires_grad_(False)
        self.reference = copy.deepcopy(self.denoiser).eval()  # the frozen reference: a second denoiser
        if getattr(self.reference, "peft_config", None):  # copied from a shared denoiser wearing our LoRA
            self.reference.disable_adapters()
        lora = LoraConfig(r=config.lora_rank, lora_alpha=config.lora_alpha, init_lora_weights="gaussian",
                          target_modules=config.lora_targets)  # fmt: skip
        self.adapter = adapter_name
        self.denoiser.add_adapter(lora, adapter_name=adapter_name)
        self.denoiser.set_adapter(adapter_name)
        if config.gradient_checkpointing:
            self.denoiser.enable_gradient_checkpointing()
        self.params = [p for p in self.denoiser.parameters() if p.requires_grad]
        for p in self.params:
            p.data = p.data.float()
        self.optimizer = torch.optim.AdamW(self.params, lr=config.learning_rate, weight_decay=config.weight_decay)
        self.generator = torch.Generator().manual_seed(config.seed)
        self.captions = [p.prompt for p in pairs]
        self.device, self.dtype = self.denoiser.device, self.denoiser.dtype
        vae = pipe.vae
        shift, scale = _vae_shift_scale(vae)
        # The dataset's images, in [-1, 1] as the reference code's transforms give them.
        with torch.no_grad():
            stored = torch.from_numpy(np.stack([p.winner for p in pairs] + [p.loser for p in pairs]))
            stored = stored.to(self.device, vae.dtype)
            self.pixels = vae.decode(stored / scale + shift).sample.clamp(-1, 1)
        self.height, self.width = self.pixels.shape[-2:]

    def _autocast(self):
        import contextlib

        import torch

        return torch.autocast("cuda", dtype=torch.bfloat16) if self.device.type == "cuda" else contextlib.nullcontext()

    def encode_images(self):
        import torch

        shift, scale = _vae_shift_scale(self.pipe.vae)
        with torch.no_grad():
            sample = self.pipe.vae.encode(self.pixels).latent_dist.sample(self.generator)
            latents = ((sample - shift) * scale).float()
        return latents.chunk(2)

    def encode_text(self, captions: list[str]):
        from worker.dpo.conditioning import PromptEncoder

        return PromptEncoder(self.pipe, self.family, guidance=3.5).batch(captions, self.height, self.width)  # no cache

    def terms(self, winners, losers, cond, noise, timesteps):
        """The DPO terms given latents, conditioning, noise and timesteps (shared by winner and loser)."""
        import torch

        from worker.dpo.objective import denoising_error, diffusion_dpo_loss

        latents = torch.cat([winners, losers])
        noise2, t2, cond2 = torch.cat([noise, noise]), torch.cat([timesteps, timesteps]), cond.repeat(2)
        noisy = self.noising.noised(latents, noise2, t2).to(self.dtype)
        target = self.noising.target(latents, noise2, t2)
        with self._autocast():
            model_pred = cond2.predict(self.denoiser, noisy, t2)
            with torch.no_grad():
                ref_pred = cond2.predict(self.reference, noisy, t2)
        model_err_w, model_err_l = denoising_error(model_pred, target).chunk(2)
        ref_err_w, ref_err_l = denoising_error(ref_pred, target).chunk(2)
        return diffusion_dpo_loss(model_err_w, model_err_l, ref_err_w, ref_err_l, self.config.beta)

    def train_step(self) -> float:
        import torch

        self.denoiser.set_adapter(self.adapter)
        self.denoiser.train()
        winners, losers = self.encode_images()
        cond = self.encode_text(self.captions)
        noise = torch.randn(winners.shape, generator=self.generator).to(self.device)
        timesteps = self.noising.timesteps(len(winners), self.generator).to(self.device)
        terms = self.terms(winners, losers, cond, noise, timesteps)
        terms.loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, self.config.max_grad_norm)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return terms.loss.item()


def timed(fn, device) -> float:
    import torch

    started = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - started


def loss_agreement(trainer, baseline, pairs, seed: int = 1234) -> dict[str, float]:
    """Both paths on identical inputs: our latents (no VAE), noise, timesteps, conditioning and adapter weights."""
    import numpy as np
    import torch

    ours_lora = {n: p for n, p in trainer.denoiser.named_parameters() if "lora_" in n}
    base_lora = dict(baseline.denoiser.named_parameters())
    with torch.no_grad():
        for name, param in ours_lora.items():
            base_lora[name].copy_(param)
        seeds = [seed + i for i in range(len(pairs))]
        ours = trainer.terms(pairs, seeds, train=False)
        winners = torch.from_numpy(np.stack([p.winner for p in pairs])).to(trainer.device)
        losers = torch.from_numpy(np.stack([p.loser for p in pairs])).to(trainer.device)
        noise, timesteps = trainer._draw(seeds, tuple(winners.shape[1:]))  # the same draws as terms()
        height, width = (size * trainer.pipe.vae_scale_factor for size in winners.shape[-2:])
        cond = trainer.prompts.batch([p.prompt for p in pairs], height, width)
        base = baseline.terms(winners, losers, cond, noise, timesteps)
        own = baseline.encode_text([p.prompt for p in pairs])
    embedding_gap = max((own.batched[k].float() - cond.batched[k].float()).abs().max().item() for k in cond.batched)
    return {
        "loss ours": ours.loss.item(),
        "loss baseline": base.loss.item(),
        "|Δloss|": abs(ours.loss.item() - base.loss.item()),
        "max |Δinside|": (ours.inside - base.inside).abs().max().item(),
        "max |Δconditioning| (baseline's own text encoding)": embedding_gap,
    }


def load(args):
    """The model twice (ours and the baseline's own copy), from a directory or built with random weights."""
    import torch

    from worker.generation.loading import load_pipeline

    device = torch.device(args.device)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    if args.family:
        from family_shapes import build

        return build(args.family, args.scale, args.device, dtype), build(args.family, args.scale, args.device, dtype)
    return load_pipeline(args.model, device, dtype), load_pipeline(args.model, device, dtype)


def main() -> None:
    import torch

    from core.paths import EMBEDDED_MODEL_DIR
    from core.schemas.rounds import DPOConfig
    from worker.dpo.trainer import DPOTrainer

    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, default=EMBEDDED_MODEL_DIR)
    parser.add_argument("--family", choices=["sd15", "sdxl", "sd3", "flux"], help="random weights instead of --model")
    parser.add_argument("--scale", choices=["real", "tiny"], default="real")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--random-latents", action="store_true", help="random stored latents instead of generating")
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per path")
    parser.add_argument("--block", type=int, default=5, help="steps per alternating block")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    config = DPOConfig(method="lora", batch_pairs=args.pairs, warmup_steps=0)
    (pipe, family), (baseline_pipe, _) = load(args)
    pairs = stored_pairs(pipe, family, args.pairs, args.random_latents)
    torch.manual_seed(0)  # the LoRA's gaussian init
    trainer = DPOTrainer(pipe, family, config)
    baseline = ReferenceShapedStep(baseline_pipe, family, config, pairs)

    def ours_step():
        trainer.train_step(pairs)

    for _ in range(2):  # warm-up (fills our prompt cache too)
        ours_step()
        baseline.train_step()
    # Checked after two steps, so the adapters are no longer zero and the loss is still near ln 2.
    check = loss_agreement(trainer, baseline, pairs)
    ours_times, base_times = [], []
    for _ in range(max(1, args.steps // args.block)):
        ours_times += [timed(ours_step, device) for _ in range(args.block)]
        base_times += [timed(baseline.train_step, device) for _ in range(args.block)]
    ours_s, base_s = statistics.median(ours_times), statistics.median(base_times)

    # Where the baseline's time goes: its per-step encoders, timed alone.
    vae_s = statistics.median(timed(baseline.encode_images, device) for _ in range(5))
    text_s = statistics.median(timed(lambda: baseline.encode_text(baseline.captions), device) for _ in range(5))

    figures = {
        "model": f"{args.family} ({args.scale}, random weights)" if args.family else str(args.model),
        "family": family.value,
        "device": str(device) + (f" ({torch.cuda.get_device_name()})" if device.type == "cuda" else ""),
        "pairs per step": args.pairs,
        "latents": "×".join(map(str, pairs[0].winner.shape)),
        "timed steps per path": len(ours_times),
        "ours s/step (median)": round(ours_s, 4),
        "baseline s/step (median)": round(base_s, 4),
        "  of which VAE encode s": round(vae_s, 4),
        "  of which text encode s": round(text_s, 4),
        "  per-step encoders' share of baseline step": f"{(vae_s + text_s) / base_s:.1%}",
        "ours pairs/s": round(args.pairs / ours_s, 2),
        "baseline pairs/s": round(args.pairs / base_s, 2),
        "speed-up ours/baseline (goal ≥ 1.5)": round(base_s / ours_s, 2),
        # Both paths run the same denoiser work (policy forward+backward, reference forward); dropping
        # the per-step encoders is all caching can win, so this bounds the speed-up on this model.
        "ceiling: baseline without its encoders": round(base_s / max(1e-9, base_s - vae_s - text_s), 2),
    }
    figures.update({k: f"{v:.3g}" if "Δ" in k else f"{v:.7f}" for k, v in check.items()})
    width = max(map(len, figures))
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")
    if device.type == "cpu":  # fp32: the two paths must agree exactly; bf16 on a GPU only roughly
        assert check["|Δloss|"] <= 1e-6, f"the two paths disagree on identical inputs: |Δloss| = {check['|Δloss|']}"


if __name__ == "__main__":
    main()
