"""Diffusion-DPO train-step speed on the shipped model: our step against the reference code's shape.

Ours: `DPOTrainer` with LoRA (method "lora"). The latents were stored at generation time, the
caption embeddings are computed once per prompt and cached by `PromptEncoder`, and the reference
is the same UNet with its adapters disabled.

Baseline, written here and run in the same process on its own copy of the model: the shape of the
Diffusion-DPO reference code (SalesforceAIResearch/DiffusionDPO, train.py). Every step it
VAE-encodes both images of each pair (`vae.encode(pixels).latent_dist.sample() * scaling_factor`;
the pixel images are decoded once at setup from the same stored latents), tokenizes and re-encodes
the captions with the text encoder, and runs a separate frozen reference UNet (a deepcopy taken
before the LoRA is added). Same batch, same LoRA, same loss (`worker.dpo.objective`), same noise
policy (winner and loser share noise and timestep), same AdamW and gradient clipping.

Both paths alternate in blocks of steps after a warm-up, so a busy CPU slows both alike; the
figures are medians per step. A check (after the warm-up) feeds the baseline exactly our latents, noise,
timesteps, text embeddings and adapter weights (VAE bypassed) and prints |Δloss| (must be ≤ 1e-6).

    .venv/bin/python bench/dpo_train_step.py [--model DIR] [--pairs N] [--steps N] [--threads T]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PROMPTS = [
    "a large red circle on the left, white background",
    "a small blue square in the center",
    "a green triangle on the right, gray background",
    "a medium yellow cross, black background",
]


def stored_pairs(pipe, count: int) -> list:
    """`count` pairs of latents as generation stores them: two seeds of one prompt per pair."""
    import torch

    from worker.dpo.trainer import TrainingPair

    prompts = [PROMPTS[i % len(PROMPTS)] for i in range(count)]
    with torch.no_grad():
        latents = pipe(prompt=[p for p in prompts for _ in range(2)], num_inference_steps=10, guidance_scale=4.0,
                       output_type="latent",
                       generator=[torch.Generator().manual_seed(i) for i in range(2 * count)]).images  # fmt: skip
    latents = latents.float().numpy()
    return [TrainingPair(p, latents[2 * i], latents[2 * i + 1]) for i, p in enumerate(prompts)]


class ReferenceShapedStep:
    """One DPO step the way the reference code does it: VAE and text encoder every step, frozen UNet copy."""

    def __init__(self, pipe, config, pairs):
        import numpy as np
        import torch
        from diffusers import DDPMScheduler
        from peft import LoraConfig

        self.pipe, self.config = pipe, config
        self.noise_scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
        self.vae, self.text_encoder, self.tokenizer, self.unet = pipe.vae, pipe.text_encoder, pipe.tokenizer, pipe.unet
        for module in (self.vae, self.text_encoder, self.unet):
            module.requires_grad_(False)
        self.ref_unet = copy.deepcopy(self.unet).eval()  # the frozen reference: a second UNet
        lora = LoraConfig(r=config.lora_rank, lora_alpha=config.lora_alpha, init_lora_weights="gaussian",
                          target_modules=config.lora_targets)  # fmt: skip
        self.unet.add_adapter(lora, adapter_name="dpo")
        self.params = [p for p in self.unet.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(self.params, lr=config.learning_rate, weight_decay=config.weight_decay)
        self.generator = torch.Generator().manual_seed(config.seed)
        self.captions = [p.prompt for p in pairs]
        # The dataset's images, in [-1, 1] as the reference code's transforms give them.
        with torch.no_grad():
            stored = torch.from_numpy(np.stack([p.winner for p in pairs] + [p.loser for p in pairs]))
            pixels = self.vae.decode(stored / self.vae.config.scaling_factor).sample.clamp(-1, 1)
        self.pixels_w, self.pixels_l = pixels.chunk(2)

    def encode_images(self):
        import torch

        with torch.no_grad():
            pixels = torch.cat([self.pixels_w, self.pixels_l])
            latents = self.vae.encode(pixels).latent_dist.sample(self.generator) * self.vae.config.scaling_factor
        return latents.chunk(2)

    def encode_text(self, captions: list[str]):
        import torch

        ids = self.tokenizer(captions, padding="max_length", max_length=self.tokenizer.model_max_length,
                             truncation=True, return_tensors="pt").input_ids  # fmt: skip
        with torch.no_grad():
            return self.text_encoder(ids)[0]

    def terms(self, winners, losers, hidden, noise, timesteps):
        """The DPO terms given latents, caption embeddings, noise and timesteps (shared by winner and loser)."""
        import torch

        from worker.dpo.objective import denoising_error, diffusion_dpo_loss

        latents = torch.cat([winners, losers])
        noise2, t2, hidden2 = torch.cat([noise, noise]), torch.cat([timesteps, timesteps]), hidden.repeat(2, 1, 1)
        noisy = self.noise_scheduler.add_noise(latents, noise2, t2)
        kind = self.noise_scheduler.config.prediction_type
        target = noise2 if kind == "epsilon" else self.noise_scheduler.get_velocity(latents, noise2, t2)
        model_pred = self.unet(noisy, t2, encoder_hidden_states=hidden2).sample
        with torch.no_grad():
            ref_pred = self.ref_unet(noisy, t2, encoder_hidden_states=hidden2).sample
        model_err_w, model_err_l = denoising_error(model_pred, target).chunk(2)
        ref_err_w, ref_err_l = denoising_error(ref_pred, target).chunk(2)
        return diffusion_dpo_loss(model_err_w, model_err_l, ref_err_w, ref_err_l, self.config.beta)

    def train_step(self) -> float:
        import torch

        self.unet.train()
        winners, losers = self.encode_images()
        hidden = self.encode_text(self.captions)
        noise = torch.randn(winners.shape, generator=self.generator)
        steps = self.noise_scheduler.config.num_train_timesteps
        timesteps = torch.randint(0, steps, (len(winners),), generator=self.generator)
        terms = self.terms(winners, losers, hidden, noise, timesteps)
        terms.loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, self.config.max_grad_norm)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return terms.loss.item()


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def loss_agreement(trainer, baseline, pairs, seed: int = 1234) -> dict[str, float]:
    """Both paths on identical inputs: our latents (no VAE), noise, timesteps, embeddings and adapter weights."""
    import numpy as np
    import torch

    ours_lora = {n: p for n, p in trainer.denoiser.named_parameters() if "lora_" in n}
    base_lora = dict(baseline.unet.named_parameters())
    with torch.no_grad():
        for name, param in ours_lora.items():
            base_lora[name].copy_(param)
        seeds = [seed + i for i in range(len(pairs))]
        ours = trainer.terms(pairs, seeds, train=False)
        winners = torch.from_numpy(np.stack([p.winner for p in pairs]))
        losers = torch.from_numpy(np.stack([p.loser for p in pairs]))
        noise, timesteps = trainer._draw(seeds, tuple(winners.shape[1:]))  # the same draws as terms()
        height, width = (size * trainer.pipe.vae_scale_factor for size in winners.shape[-2:])
        hidden = trainer.prompts.batch([p.prompt for p in pairs], height, width).batched["hidden"]
        base = baseline.terms(winners, losers, hidden, noise, timesteps)
        own_hidden = baseline.encode_text([p.prompt for p in pairs])
    return {
        "loss ours": ours.loss.item(),
        "loss baseline": base.loss.item(),
        "|Δloss|": abs(ours.loss.item() - base.loss.item()),
        "max |Δinside|": (ours.inside - base.inside).abs().max().item(),
        "max |Δembedding| (baseline's own text encoding)": (own_hidden - hidden).abs().max().item(),
    }


def main() -> None:
    import torch

    from core.paths import EMBEDDED_MODEL_DIR
    from core.schemas.rounds import DPOConfig
    from worker.dpo.trainer import DPOTrainer
    from worker.generation.loading import load_pipeline

    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, default=EMBEDDED_MODEL_DIR)
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per path")
    parser.add_argument("--block", type=int, default=5, help="steps per alternating block")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)  # the LoRA's gaussian init
    cpu = torch.device("cpu")

    config = DPOConfig(method="lora", batch_pairs=args.pairs, warmup_steps=0)
    pipe, family = load_pipeline(args.model, cpu, torch.float32)
    pairs = stored_pairs(pipe, args.pairs)
    trainer = DPOTrainer(pipe, family, config)
    baseline = ReferenceShapedStep(load_pipeline(args.model, cpu, torch.float32)[0], config, pairs)

    def ours_step():
        trainer.train_step(pairs)

    for _ in range(2):  # warm-up (fills our prompt cache too)
        ours_step()
        baseline.train_step()
    # Checked after two steps, so the adapters are no longer zero and the loss is still near ln 2.
    check = loss_agreement(trainer, baseline, pairs)
    ours_times, base_times = [], []
    for _ in range(max(1, args.steps // args.block)):
        ours_times += [timed(ours_step) for _ in range(args.block)]
        base_times += [timed(baseline.train_step) for _ in range(args.block)]
    ours_s, base_s = statistics.median(ours_times), statistics.median(base_times)

    # Where the baseline's time goes: its per-step encoders, timed alone.
    vae_s = statistics.median(timed(baseline.encode_images) for _ in range(5))
    text_s = statistics.median(timed(lambda: baseline.encode_text(baseline.captions)) for _ in range(5))

    figures = {
        "model": str(args.model),
        "threads": args.threads,
        "pairs per step": args.pairs,
        "timed steps per path": len(ours_times),
        "ours s/step (median)": round(ours_s, 4),
        "baseline s/step (median)": round(base_s, 4),
        "  of which VAE encode s": round(vae_s, 4),
        "  of which text encode s": round(text_s, 4),
        "  per-step encoders' share of baseline step": f"{(vae_s + text_s) / base_s:.1%}",
        "ours pairs/s": round(args.pairs / ours_s, 2),
        "baseline pairs/s": round(args.pairs / base_s, 2),
        "speed-up ours/baseline (goal ≥ 1.5)": round(base_s / ours_s, 2),
        # Both paths run the same UNet work (policy forward+backward, reference forward); dropping the
        # per-step encoders is all caching can win, so this bounds the speed-up on this model.
        "ceiling: baseline without its encoders": round(base_s / (base_s - vae_s - text_s), 2),
    }
    figures.update({k: f"{v:.3g}" if "Δ" in k else f"{v:.7f}" for k, v in check.items()})
    width = max(map(len, figures))
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")
    assert check["|Δloss|"] <= 1e-6, f"the two paths disagree on identical inputs: |Δloss| = {check['|Δloss|']}"


if __name__ == "__main__":
    main()
