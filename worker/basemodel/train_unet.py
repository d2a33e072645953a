"""Stage 3: train the text encoder and UNet jointly with SD's epsilon objective, resumably.

A plain loop in the spirit of diffusers' train_text_to_image.py: noise the latents at a random
timestep, predict the noise, Min-SNR-weighted MSE, AdamW with warmup + cosine, EMA weights.
State is saved every `save_every` steps; running again continues where the last run stopped.
"""

from __future__ import annotations

import json
import math
import random
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from diffusers.training_utils import EMAModel, compute_snr
from tqdm import tqdm

from worker.basemodel.data import CaptionDropout
from worker.basemodel.recipe import Recipe
from worker.basemodel.resume import load_state, save_state
from worker.basemodel.scene_pool import load_scene_pool
from worker.basemodel.text import CaptionEncoder

STATE_FILE = "unet_state.pt"


class JointModel(torch.nn.Module):
    """Text encoder + UNet as one module, so one optimizer and one EMA cover both."""

    def __init__(self, text_encoder, unet):
        super().__init__()
        self.text_encoder = text_encoder
        self.unet = unet


def lr_at(step: int, recipe: Recipe) -> float:
    if step < recipe.warmup:
        return recipe.lr * (step + 1) / recipe.warmup
    progress = min(1.0, (step - recipe.warmup) / max(1, recipe.steps - recipe.warmup))
    floor = recipe.final_lr_share
    return recipe.lr * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


def train_unet(
    work_dir: Path,
    model: JointModel,
    tokenizer,
    scheduler,
    recipe: Recipe,
    *,
    minutes: float | None = None,
    on_eval=None,
) -> dict:
    """Continue training until recipe.steps (or `minutes` of wall time); returns progress info."""
    scenes, latents = load_scene_pool(work_dir)
    captions = CaptionEncoder(tokenizer)
    dropout = CaptionDropout()
    optimizer = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=0.01)
    ema = EMAModel(model.parameters(), decay=recipe.ema_decay, use_ema_warmup=True, power=2 / 3)
    step, elapsed, log = 0, 0.0, []
    state_path = work_dir / STATE_FILE
    torch.manual_seed(recipe.seed)
    rng = random.Random(recipe.seed + 2)
    if (state := load_state(state_path, rng)) is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        ema.load_state_dict(state["ema"])
        step, elapsed, log = state["step"], state["elapsed"], state["log"]

    def save() -> None:
        save_state(state_path, rng, model=model.state_dict(), optimizer=optimizer.state_dict(), ema=ema.state_dict(),
                   step=step, elapsed=elapsed, log=log)  # fmt: skip

    first_step = step
    deadline = time.monotonic() + minutes * 60 if minutes else None
    progress = tqdm(total=recipe.steps, initial=step, desc="unet", dynamic_ncols=True)
    recent: list[float] = []
    model.train()
    while step < recipe.steps and (deadline is None or time.monotonic() < deadline):
        started = time.monotonic()
        index = torch.tensor([rng.randrange(len(scenes)) for _ in range(recipe.batch)])
        x0 = latents[index]
        text = captions.encode(model.text_encoder, [dropout.caption(scenes[i], rng) for i in index.tolist()])
        noise = torch.randn_like(x0)
        t = torch.randint(0, scheduler.config.num_train_timesteps, (recipe.batch,))
        noisy = scheduler.add_noise(x0, noise, t)
        pred = model.unet(noisy, t, text).sample
        v_pred = scheduler.config.prediction_type == "v_prediction"
        target = scheduler.get_velocity(x0, noise, t) if v_pred else noise
        per_sample = F.mse_loss(pred, target, reduction="none").mean(dim=(1, 2, 3))
        if recipe.snr_gamma:  # Min-SNR-γ, in the form diffusers' training examples use
            snr = compute_snr(scheduler, t)
            per_sample = per_sample * torch.clamp(snr, max=recipe.snr_gamma) / (snr + 1 if v_pred else snr)
        loss = per_sample.mean()

        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, recipe)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        ema.step(model.parameters())
        step += 1
        elapsed += time.monotonic() - started
        recent = (recent + [loss.item()])[-100:]
        progress.update(1)
        progress.set_postfix(loss=f"{sum(recent) / len(recent):.4f}", lr=f"{lr_at(step, recipe):.2e}")
        if step % recipe.save_every == 0 or step == recipe.steps:
            log.append({"step": step, "loss": sum(recent) / len(recent), "elapsed_s": round(elapsed, 1)})
            save()
        if on_eval and step % recipe.eval_every == 0:
            with ema_weights(model, ema):
                log[-1]["eval"] = on_eval(model)
            tqdm.write(json.dumps(log[-1]))
            model.train()
    progress.close()
    if step > first_step:
        save()
    return {"step": step, "elapsed_s": elapsed, "done": step >= recipe.steps, "log": log, "ema": ema}


class ema_weights:
    """Context manager: the model holds its EMA weights inside, its training weights after."""

    def __init__(self, model: torch.nn.Module, ema: EMAModel):
        self.model, self.ema = model, ema

    def __enter__(self):
        self.ema.store(self.model.parameters())
        self.ema.copy_to(self.model.parameters())
        self.model.eval()

    def __exit__(self, *exc):
        self.ema.restore(self.model.parameters())
