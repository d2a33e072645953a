"""`dpoloop base-model train`: the whole recipe, stage by stage, resumable, ending in a pipeline dir.

Stages keep their outputs in a work directory: tokenizer/, vae/, scenes.json + latents.pt,
unet_state.pt. Each stage is skipped when its output exists, and the UNet stage continues from its
last saved step, so the training can be spread over several runs (`--minutes` bounds one run).
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import torch

from worker.basemodel.architecture import (
    MAX_TOKENS,
    Architecture,
    make_sampler,
    make_scheduler,
    make_text_encoder,
    make_unet,
)
from worker.basemodel.evaluate import quick_check
from worker.basemodel.model_card import write_model_card
from worker.basemodel.recipe import Recipe
from worker.basemodel.scene_pool import build_scene_pool
from worker.basemodel.tokenizer import BOS, EOS, write_tokenizer_files
from worker.basemodel.train_unet import JointModel, ema_weights, train_unet
from worker.basemodel.train_vae import train_vae
from worker.generation.generator import Generator
from worker.scenes.world import CAPTION_WORDS


def assemble(tokenizer, text_encoder, vae, unet, scheduler):
    """The parts as a StableDiffusionPipeline (no safety checker: the scene world needs none)."""
    from diffusers import StableDiffusionPipeline

    return StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=make_sampler(scheduler),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def _load_parts(work_dir: Path, arch: Architecture, recipe: Recipe, minutes: float | None):
    from diffusers import AutoencoderKL
    from transformers import CLIPTokenizer

    tokenizer_dir = work_dir / "tokenizer"
    if not (tokenizer_dir / "vocab.json").exists():
        write_tokenizer_files(CAPTION_WORDS, tokenizer_dir, MAX_TOKENS)
    tokenizer = CLIPTokenizer.from_pretrained(tokenizer_dir)
    if not (work_dir / "vae" / "config.json").exists():
        metrics = train_vae(work_dir, arch, recipe.vae_steps, recipe.vae_batch, recipe.vae_lr, recipe.seed, minutes)
        if metrics is None:
            return None
        (work_dir / "vae_metrics.json").write_text(json.dumps(metrics))
    vae = AutoencoderKL.from_pretrained(work_dir / "vae")
    if not (work_dir / "latents.pt").exists():
        build_scene_pool(work_dir, vae, recipe.scenes, recipe.seed)
    torch.manual_seed(recipe.seed)
    vocab = tokenizer.get_vocab()
    text_encoder = make_text_encoder(len(vocab), vocab[BOS], vocab[EOS], arch)
    return tokenizer, vae, JointModel(text_encoder, make_unet(arch))


def train_base_model(
    work_dir: Path,
    out_dir: Path,
    recipe: Recipe,
    arch: Architecture,
    minutes: float | None = None,
    export_now: bool = False,
) -> dict:
    """Run (or continue) the recipe; export the pipeline to out_dir once all steps are done.

    With export_now, train nothing and export the current EMA weights as they are (the card says
    how many of the recipe's steps they had)."""
    torch.set_num_threads(max(1, torch.get_num_threads()))
    work_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    parts = _load_parts(work_dir, arch, recipe, minutes)
    if parts is None:
        return {"step": 0, "elapsed_s": 0.0, "done": False, "stage": "vae"}
    tokenizer, vae, model = parts
    if export_now:
        minutes = 1e-9  # load the saved state, take no step
    elif minutes is not None:
        minutes = max(1e-9, minutes - (time.monotonic() - started) / 60)
    scheduler = make_scheduler()

    def on_eval(current: JointModel) -> dict:
        pipe = assemble(tokenizer, current.text_encoder, vae, current.unet, scheduler)
        return quick_check(Generator.from_pipeline(pipe))

    result = train_unet(work_dir, model, tokenizer, scheduler, recipe, minutes=minutes, on_eval=on_eval)
    if result["done"] or export_now:
        export(out_dir, work_dir, tokenizer, vae, model, result, scheduler, recipe, arch)
    return {k: v for k, v in result.items() if k != "ema"}


def export(out_dir: Path, work_dir: Path, tokenizer, vae, model, result, scheduler, recipe, arch) -> None:
    """Write the pipeline (EMA weights, safetensors) and its model card to out_dir, atomically."""
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    with ema_weights(model, result["ema"]):
        pipe = assemble(tokenizer, model.text_encoder, vae, model.unet, scheduler)
        pipe.save_pretrained(tmp, safe_serialization=True)
    vae_metrics = json.loads((work_dir / "vae_metrics.json").read_text())
    training = {
        "recipe": recipe.as_dict(),
        "architecture": {k: list(v) if isinstance(v, tuple) else v for k, v in arch.__dict__.items()},
        "vae": vae_metrics,
        "unet_steps": result["step"],
        "unet_train_seconds": round(result["elapsed_s"], 1),
        "unet_steps_per_second": round(result["step"] / max(result["elapsed_s"], 1e-9), 3),
        "loss_curve": result["log"],
        "exported_at": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    (tmp / "training.json").write_text(json.dumps(training, indent=1))
    write_model_card(tmp, training, scores=None)
    if out_dir.exists() or out_dir.is_symlink():
        old = out_dir.with_name(out_dir.name + ".old")
        out_dir.rename(old)
        tmp.rename(out_dir)
        old.unlink() if old.is_symlink() else shutil.rmtree(old)
    else:
        tmp.rename(out_dir)
