"""One Diffusion-DPO training run over preference pairs of stored latents.

Winner and loser get the same noise and the same timestep; the reference is the frozen start:
with LoRA the same UNet with its adapters disabled (no second copy), for a full fine-tune a
frozen copy. The loss itself lives in worker/dpo/objective.py.
"""

from __future__ import annotations

import copy
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from core.family import ModelFamily
from core.schemas.rounds import DPOConfig
from core.states import CheckpointKind
from worker.dpo.conditioning import PromptEncoder
from worker.dpo.objective import DPOTerms, denoising_error, diffusion_dpo_loss

ADAPTER = "dpo"
REFERENCE = "reference"


@dataclass(frozen=True)
class TrainingPair:
    prompt: str
    winner: np.ndarray  # (C, h, w) latents as generated (scaled space)
    loser: np.ndarray


class RefusedConfig(ValueError):
    """Settings this model cannot train with."""


def prediction_target(scheduler, latents, noise, timesteps) -> torch.Tensor:
    kind = scheduler.config.prediction_type
    if kind == "epsilon":
        return noise
    if kind == "v_prediction":
        return scheduler.get_velocity(latents, noise, timesteps)
    raise RefusedConfig(f"prediction type {kind!r} is not supported (epsilon and v_prediction are)")


def load_adapter_weights(pipe, unet, directory: Path, adapter_name: str) -> None:
    """Copy a saved LoRA (pytorch_lora_weights.safetensors) into an adapter of the same shape."""
    from diffusers.utils import convert_unet_state_dict_to_peft
    from peft import set_peft_model_state_dict

    state, _ = type(pipe).lora_state_dict(str(directory))
    state = convert_unet_state_dict_to_peft(
        {k.removeprefix("unet."): v for k, v in state.items() if k.startswith("unet.")}
    )
    try:
        result = set_peft_model_state_dict(unet, state, adapter_name=adapter_name)
    except RuntimeError as exc:  # size mismatch: another rank
        raise RefusedConfig(
            f"the LoRA in {directory} does not fit this adapter (rank or targets differ): {exc}"
        ) from exc
    if getattr(result, "unexpected_keys", None):
        raise RefusedConfig(f"the LoRA in {directory} has layers this adapter lacks: {result.unexpected_keys[:3]}")


class DPOTrainer:
    def __init__(
        self,
        pipe,
        family: ModelFamily,
        config: DPOConfig,
        init_lora: Path | None = None,
        reference_lora: tuple[Path, DPOConfig] | None = None,
        reference_unet=None,
    ):
        """init_lora: start the adapter from these LoRA weights (a round continuing a LoRA checkpoint).
        reference_lora: the reference is the UNet wearing this LoRA (its weights and the config that
        made them) instead of the bare UNet. reference_unet: a full fine-tune's frozen reference
        (default: a copy of the UNet as given)."""
        from diffusers import DDPMScheduler

        self.pipe, self.family, self.config = pipe, family, config
        self.unet = pipe.unet
        self.noise_scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
        if self.noise_scheduler.config.prediction_type not in ("epsilon", "v_prediction"):
            raise RefusedConfig(f"prediction type {self.noise_scheduler.config.prediction_type!r} is not supported")
        self.prompts = PromptEncoder(pipe, family)
        self.generator = torch.Generator().manual_seed(config.seed)
        self.rng = random.Random(config.seed)
        self.device = self.unet.device
        for module in (pipe.vae, pipe.text_encoder, getattr(pipe, "text_encoder_2", None)):
            if module is not None:
                module.requires_grad_(False)
        self.unet.requires_grad_(False)
        self.reference = None
        self.reference_adapter = False
        if config.method == "lora":
            from peft import LoraConfig

            lora = LoraConfig(r=config.lora_rank, lora_alpha=config.lora_alpha, init_lora_weights="gaussian",
                              target_modules=config.lora_targets)  # fmt: skip
            try:
                self.unet.add_adapter(lora, adapter_name=ADAPTER)
            except ValueError as exc:  # peft's "target modules … not found"
                raise RefusedConfig(f"LoRA targets {config.lora_targets} do not fit this UNet: {exc}") from exc
            if init_lora is not None:
                load_adapter_weights(pipe, self.unet, init_lora, ADAPTER)
            if reference_lora is not None:
                path, made_with = reference_lora
                frozen = LoraConfig(r=made_with.lora_rank, lora_alpha=made_with.lora_alpha,
                                    target_modules=made_with.lora_targets)  # fmt: skip
                self.unet.add_adapter(frozen, adapter_name=REFERENCE)
                load_adapter_weights(pipe, self.unet, path, REFERENCE)
                self.unet.set_adapter(ADAPTER)
                self.reference_adapter = True
        else:
            self.reference = (reference_unet if reference_unet is not None else copy.deepcopy(self.unet)).eval()
            self.reference.requires_grad_(False)
            self.unet.requires_grad_(True)
        if config.gradient_checkpointing:
            self.unet.enable_gradient_checkpointing()
        self.params = [p for p in self.unet.parameters() if p.requires_grad]
        if not self.params:
            raise RefusedConfig(f"no trainable parameters: do the LoRA targets {config.lora_targets} exist?")
        for p in self.params:
            p.data = p.data.float()  # trainable weights stay fp32 under mixed precision
        self.optimizer = self._optimizer()
        self.step_count = 0

    def _optimizer(self):
        c = self.config
        if c.optimizer == "adafactor":
            from transformers.optimization import Adafactor

            return Adafactor(self.params, lr=c.learning_rate, relative_step=False, scale_parameter=False,
                             warmup_init=False, weight_decay=c.weight_decay)  # fmt: skip
        return torch.optim.AdamW(self.params, lr=c.learning_rate, weight_decay=c.weight_decay)

    def _autocast(self):
        precision = self.config.mixed_precision
        if precision == "no" or self.device.type != "cuda":
            return torch.autocast("cpu", enabled=False)
        return torch.autocast("cuda", dtype=torch.bfloat16 if precision == "bf16" else torch.float16)

    def _reference_predict(self, noisy, timesteps, cond) -> torch.Tensor:
        with torch.no_grad(), self._autocast():
            if self.reference is not None:
                return self.reference(noisy, timesteps, **cond.unet_kwargs()).sample
            if self.reference_adapter:
                self.unet.set_adapter(REFERENCE)
                try:
                    return self.unet(noisy, timesteps, **cond.unet_kwargs()).sample
                finally:
                    self.unet.set_adapter(ADAPTER)
            self.unet.disable_adapters()
            try:
                return self.unet(noisy, timesteps, **cond.unet_kwargs()).sample
            finally:
                self.unet.enable_adapters()

    def terms(self, pairs: list[TrainingPair], noise_seed: int | None = None, train: bool = True) -> DPOTerms:
        """The DPO terms of a batch: model and reference errors under shared noise and timesteps."""
        dtype = self.unet.dtype
        winners = torch.from_numpy(np.stack([p.winner for p in pairs])).to(self.device, torch.float32)
        losers = torch.from_numpy(np.stack([p.loser for p in pairs])).to(self.device, torch.float32)
        generator = torch.Generator().manual_seed(noise_seed) if noise_seed is not None else self.generator
        noise = torch.randn(winners.shape, generator=generator).to(self.device)
        steps = self.noise_scheduler.config.num_train_timesteps
        timesteps = torch.randint(0, steps, (len(pairs),), generator=generator).to(self.device)
        prompts = [p.prompt for p in pairs]
        if train and self.config.empty_prompt_share:
            prompts = ["" if self.rng.random() < self.config.empty_prompt_share else p for p in prompts]
        vae_factor = self.pipe.vae_scale_factor
        height, width = winners.shape[-2] * vae_factor, winners.shape[-1] * vae_factor
        cond = self.prompts.batch(prompts, height, width).repeat(2)
        # [winners; losers] with the same noise and timestep for both halves.
        latents = torch.cat([winners, losers])
        noise2, t2 = torch.cat([noise, noise]), torch.cat([timesteps, timesteps])
        noisy = self.noise_scheduler.add_noise(latents, noise2, t2).to(dtype)
        target = prediction_target(self.noise_scheduler, latents, noise2, t2)
        with self._autocast():
            model_pred = self.unet(noisy, t2, **cond.unet_kwargs()).sample
        ref_pred = self._reference_predict(noisy, t2, cond)
        model_err_w, model_err_l = denoising_error(model_pred, target).chunk(2)
        ref_err_w, ref_err_l = denoising_error(ref_pred, target).chunk(2)
        return diffusion_dpo_loss(model_err_w, model_err_l, ref_err_w, ref_err_l, self.config.beta,
                                  self.config.winner_penalty)  # fmt: skip

    def _lr(self) -> float:
        c = self.config
        return c.learning_rate * min(1.0, (self.step_count + 1) / max(1, c.warmup_steps))

    def train_step(self, batches: list[list[TrainingPair]]) -> dict[str, float]:
        """One optimizer step over grad_accumulation micro-batches; returns the step's metrics."""
        self.unet.train()
        for group in self.optimizer.param_groups:
            group["lr"] = self._lr()
        metrics: dict[str, float] = {}
        for batch in batches:
            terms = self.terms(batch)
            (terms.loss / len(batches)).backward()
            for key, value in terms.metrics().items():
                metrics[key] = metrics.get(key, 0.0) + value / len(batches)
        grad_norm = torch.nn.utils.clip_grad_norm_(self.params, self.config.max_grad_norm)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step_count += 1
        metrics.update(step=self.step_count, lr=self._lr(), grad_norm=float(grad_norm))
        if not math.isfinite(metrics["loss"]):
            raise FloatingPointError(f"loss became {metrics['loss']} at step {self.step_count}")
        return metrics

    @torch.no_grad()
    def evaluate(self, pairs: list[TrainingPair], batch: int = 16, draws: int = 4) -> dict[str, float]:
        """Held-out metrics under fixed noise: implicit accuracy and the winners' error drift.

        Each pair is scored under `draws` fixed noise/timestep draws: one draw per pair makes the
        accuracy of a few dozen pairs too noisy to gate on."""
        self.unet.eval()
        inside, err_w, ref_w = [], [], []
        for draw in range(draws):
            for start in range(0, len(pairs), batch):
                terms = self.terms(
                    pairs[start : start + batch], noise_seed=10_000 + 1_000_003 * draw + start, train=False
                )
                inside.append(terms.inside)
                err_w.append(terms.model_err_w)
                ref_w.append(terms.ref_err_w)
        if not inside:
            return {}
        inside_t, err_w_t, ref_w_t = torch.cat(inside), torch.cat(err_w), torch.cat(ref_w)
        return {
            "held_out_pairs": len(pairs),
            "held_out_implicit_accuracy": ((inside_t > 0).float() + 0.5 * (inside_t == 0).float()).mean().item(),
            "held_out_reward_margin": inside_t.mean().item(),
            # > 0: the model denoises the winners worse than the reference did (the collapse signature).
            "held_out_winner_drift": ((err_w_t - ref_w_t) / ref_w_t.clamp_min(1e-12)).mean().item(),
        }

    def sample_batches(self, pairs: list[TrainingPair]) -> list[list[TrainingPair]]:
        c = self.config
        return [[self.rng.choice(pairs) for _ in range(c.batch_pairs)] for _ in range(c.grad_accumulation)]

    def fit(
        self,
        pairs: list[TrainingPair],
        held_out: list[TrainingPair],
        on_step: Callable[[dict], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> dict[str, float]:
        """Train until config.steps optimizer steps are done; returns the final held-out metrics."""
        if not pairs:
            raise RefusedConfig("no preference pairs to train on")
        while self.step_count < self.config.steps:
            if should_stop and should_stop():
                break
            metrics = self.train_step(self.sample_batches(pairs))
            if held_out and (self.step_count % self.config.eval_every == 0 or self.step_count == self.config.steps):
                metrics.update(self.evaluate(held_out))
            if on_step:
                on_step(metrics)
        return self.evaluate(held_out) if held_out else {}

    def save(self, directory: Path) -> CheckpointKind:
        """Write weights plain diffusers reads into directory; returns the checkpoint kind."""
        directory.mkdir(parents=True, exist_ok=True)
        if self.config.method == "full":
            self.unet.save_pretrained(directory / "unet", safe_serialization=True)
            return CheckpointKind.full
        from diffusers.utils import convert_state_dict_to_diffusers
        from peft.utils import get_peft_model_state_dict

        layers = convert_state_dict_to_diffusers(get_peft_model_state_dict(self.unet, adapter_name=ADAPTER))
        type(self.pipe).save_lora_weights(directory, unet_lora_layers=layers, safe_serialization=True)
        return CheckpointKind.lora
