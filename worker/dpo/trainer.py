"""One Diffusion-DPO training run over preference pairs of stored latents.

Winner and loser get the same noise and the same timestep; the reference is the frozen start:
with LoRA the same UNet with its adapters disabled (no second copy), for a full fine-tune a
frozen copy. The loss itself lives in worker/dpo/objective.py.
"""

from __future__ import annotations

import contextlib
import copy
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from core.family import ModelFamily
from core.schemas.rounds import DPOConfig
from core.states import CheckpointKind
from worker.dpo.conditioning import PromptEncoder
from worker.dpo.noising import RefusedScheduler, noising_for
from worker.dpo.objective import DPOTerms, denoising_error, diffusion_dpo_loss
from worker.generation.lora_file import adapter_metadata, scale_up_projections, worn_scale

ADAPTER = "dpo"
REFERENCE = "reference"
EVAL_SEED = 10_000
HELD_OUT_DRAWS = 8  # noise draws per held-out pair (DPOLOOP_GATE_DRAWS)
# The curve's held-out points before the last step feed no gate: fewer draws (an evaluation of 8 costs
# about 13 training steps on the embedded model, and a round makes eight of them).
CURVE_DRAWS = 4


@dataclass(frozen=True)
class TrainingPair:
    prompt: str
    winner: np.ndarray  # (C, h, w) latents as generated (scaled space)
    loser: np.ndarray


class RefusedConfig(ValueError):
    """Settings this model cannot train with."""


def seed_of(*keys: int) -> int:
    """A noise seed determined by keys alone (a pair's round seed, step and place in the batch)."""
    return int(np.random.SeedSequence(list(keys)).generate_state(1)[0])


def load_adapter_weights(pipe, family: ModelFamily, model, directory: Path, adapter_name: str) -> None:
    """Copy a saved LoRA (pytorch_lora_weights.safetensors) into an adapter of the same shape so that the
    adapter makes the update the checkpoint serves: the adapter multiplies B·A by its own alpha/r, the
    checkpoint is worn at its file's (alpha/r of its config, 1 for a file without one), so the up
    projections are loaded times worn / own."""
    from diffusers.utils import convert_unet_state_dict_to_peft
    from peft import set_peft_model_state_dict

    loaded = type(pipe).lora_state_dict(str(directory))
    state = loaded[0] if isinstance(loaded, tuple) else loaded  # SD/SDXL also return network alphas
    prefix = family.denoiser + "."
    state = {k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)}
    state = convert_unet_state_dict_to_peft(state)
    adapter = model.peft_config[adapter_name]
    state = scale_up_projections(state, worn_scale(directory, family.denoiser) / (adapter.lora_alpha / adapter.r))
    try:
        result = set_peft_model_state_dict(model, state, adapter_name=adapter_name)
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
        reference_model=None,
    ):
        """init_lora: start the adapter from these LoRA weights (a round continuing a LoRA checkpoint), at
        the update it serves whatever alpha this round's adapter has.
        reference_lora: the reference is the denoiser wearing this LoRA (its weights and the config that
        made them) instead of the bare denoiser. reference_model: a full fine-tune's frozen reference
        (default: a copy of the denoiser as given)."""
        self.pipe, self.family, self.config = pipe, family, config
        self.denoiser = getattr(pipe, family.denoiser)  # the trained network: a UNet, or SD3's/FLUX's transformer
        try:
            self.noising = noising_for(family, pipe.scheduler.config)
        except RefusedScheduler as exc:
            raise RefusedConfig(str(exc)) from exc
        self.prompts = PromptEncoder(pipe, family, guidance=config.guidance)
        self.rng = random.Random(config.seed)
        self.device = self.denoiser.device
        for name in ("vae", "text_encoder", "text_encoder_2", "text_encoder_3"):
            module = getattr(pipe, name, None)
            if module is not None:
                module.requires_grad_(False)
        self.denoiser.requires_grad_(False)
        self.reference = None
        self.reference_adapter = False
        if config.method == "lora":
            from peft import LoraConfig

            lora = LoraConfig(r=config.lora_rank, lora_alpha=config.lora_alpha, init_lora_weights="gaussian",
                              target_modules=config.lora_targets)  # fmt: skip
            try:
                self.denoiser.add_adapter(lora, adapter_name=ADAPTER)
            except ValueError as exc:  # peft's "target modules … not found"
                raise RefusedConfig(
                    f"LoRA targets {config.lora_targets} do not fit this {family.denoiser}: {exc}"
                ) from exc
            if init_lora is not None:
                load_adapter_weights(pipe, family, self.denoiser, init_lora, ADAPTER)
            if reference_lora is not None:
                path, made_with = reference_lora
                frozen = LoraConfig(r=made_with.lora_rank, lora_alpha=made_with.lora_alpha,
                                    target_modules=made_with.lora_targets)  # fmt: skip
                self.denoiser.add_adapter(frozen, adapter_name=REFERENCE)
                load_adapter_weights(pipe, family, self.denoiser, path, REFERENCE)
                self.denoiser.set_adapter(ADAPTER)
                self.reference_adapter = True
        else:
            self.reference = (reference_model if reference_model is not None else copy.deepcopy(self.denoiser)).eval()
            self.reference.requires_grad_(False)
            self.denoiser.requires_grad_(True)
        if config.gradient_checkpointing:
            self.denoiser.enable_gradient_checkpointing()
        self.params = [p for p in self.denoiser.parameters() if p.requires_grad]
        if not self.params:
            raise RefusedConfig(f"no trainable parameters: do the LoRA targets {config.lora_targets} exist?")
        for p in self.params:
            p.data = p.data.float()  # trainable weights stay fp32 under mixed precision
        self.optimizer = self._optimizer()
        self.ema = None
        if config.ema_decay:
            from diffusers.training_utils import EMAModel

            self.ema = EMAModel(self.params, decay=config.ema_decay)
        self.step_count = 0
        self.held_out_draws = HELD_OUT_DRAWS
        # Data parallel (data_parallel()): the module the trained pass runs through, and this process's place.
        self.trained, self.accelerator, self.rank, self.world = self.denoiser, None, 0, 1

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
                return cond.predict(self.reference, noisy, timesteps)
            if self.reference_adapter:
                self.denoiser.set_adapter(REFERENCE)
                try:
                    return cond.predict(self.denoiser, noisy, timesteps)
                finally:
                    self.denoiser.set_adapter(ADAPTER)
            self.denoiser.disable_adapters()
            try:
                return cond.predict(self.denoiser, noisy, timesteps)
            finally:
                self.denoiser.enable_adapters()

    def _draw(self, seeds: list[int], shape: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
        """Noise and timestep of each pair from its own seed: the same pair at the same step gets the
        same draw in whichever process (and whichever micro-batch) trains it."""
        noise, timesteps = [], []
        for seed in seeds:
            generator = torch.Generator().manual_seed(int(seed))
            noise.append(torch.randn(shape, generator=generator))
            timesteps.append(self.noising.timesteps(1, generator))
        return torch.stack(noise).to(self.device), torch.cat(timesteps).to(self.device)

    def terms(self, pairs: list[TrainingPair], seeds: list[int], train: bool = True,
              timesteps: torch.Tensor | None = None) -> DPOTerms:  # fmt: skip
        """The DPO terms of a batch: model and reference errors under shared noise and timesteps
        (each pair's drawn from its seed, or the timesteps given)."""
        dtype = self.denoiser.dtype
        winners = torch.from_numpy(np.stack([p.winner for p in pairs])).to(self.device, torch.float32)
        losers = torch.from_numpy(np.stack([p.loser for p in pairs])).to(self.device, torch.float32)
        noise, drawn = self._draw(seeds, tuple(winners.shape[1:]))
        timesteps = drawn if timesteps is None else timesteps.to(self.device)
        prompts = [p.prompt for p in pairs]
        vae_factor = self.pipe.vae_scale_factor
        height, width = winners.shape[-2] * vae_factor, winners.shape[-1] * vae_factor
        cond = self.prompts.batch(prompts, height, width).repeat(2)
        # [winners; losers] with the same noise and timestep for both halves.
        latents = torch.cat([winners, losers])
        noise2, t2 = torch.cat([noise, noise]), torch.cat([timesteps, timesteps])
        noisy = self.noising.noised(latents, noise2, t2).to(dtype)
        target = self.noising.target(latents, noise2, t2)
        with self._autocast():
            model_pred = cond.predict(self.trained if train else self.denoiser, noisy, t2)
        ref_pred = self._reference_predict(noisy, t2, cond)
        model_err_w, model_err_l = denoising_error(model_pred, target).chunk(2)
        ref_err_w, ref_err_l = denoising_error(ref_pred, target).chunk(2)
        return diffusion_dpo_loss(model_err_w, model_err_l, ref_err_w, ref_err_l, self.config.beta,
                                  self.config.winner_penalty)  # fmt: skip

    def _lr(self) -> float:
        c = self.config
        return c.learning_rate * min(1.0, (self.step_count + 1) / max(1, c.warmup_steps))

    def data_parallel(self, accelerator) -> None:
        """Train as one of accelerator.num_processes: the denoiser is wrapped in DDP for the trained
        forward pass (the reference and held-out passes use it unwrapped: no collective there), and
        each step this process takes every world-th pair of the global batch."""
        self.accelerator = accelerator
        self.rank, self.world = accelerator.process_index, accelerator.num_processes
        self.trained = accelerator.prepare_model(self.denoiser)

    def pair_seed(self, step: int, index: int, draw: int = 0) -> int:
        """The seed of a pair's draw at a step (draw 0 keeps the one-draw seeds rounds always had)."""
        return seed_of(self.config.seed, step, index) if draw == 0 else seed_of(self.config.seed, step, index, draw)

    def train_step(self, batch: list[TrainingPair]) -> dict[str, float]:
        """One optimizer step over the global batch (this process's share of it when data-parallel),
        in micro-batches of batch_pairs, each pair under noise_draws draws; the gradient is that of the
        mean loss over the whole global batch for any number of processes. Returns the step's metrics,
        averaged over the batch."""
        self.denoiser.train()
        for group in self.optimizer.param_groups:
            group["lr"] = self._lr()
        share = list(range(self.rank, len(batch), self.world))
        chunks = [share[i : i + self.config.batch_pairs] for i in range(0, len(share), self.config.batch_pairs)]
        if not chunks:
            raise RefusedConfig(f"a global batch of {len(batch)} pairs leaves process {self.rank} nothing to train")
        sums: dict[str, float] = {}
        for k, chunk in enumerate(chunks):
            syncing = self.accelerator is None or k == len(chunks) - 1
            with contextlib.nullcontext() if syncing else self.accelerator.no_sync(self.trained):
                draws = range(self.config.noise_draws)  # each pair under several noise draws: one mean loss
                terms = self.terms([batch[i] for i in chunk for _ in draws],
                                   [self.pair_seed(self.step_count, i, d) for i in chunk for d in draws])  # fmt: skip
                # DDP averages gradients over processes: × world makes it the global batch's mean.
                (terms.loss * len(chunk) / len(batch) * self.world).backward()
            for key, value in terms.metrics().items():
                sums[key] = sums.get(key, 0.0) + value * len(chunk) / len(batch)
        metrics = self._summed_over_processes(sums)
        grad_norm = torch.nn.utils.clip_grad_norm_(self.params, self.config.max_grad_norm)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        if self.ema is not None:
            self.ema.step(self.params)
        self.step_count += 1
        metrics.update(step=self.step_count, lr=self._lr(), grad_norm=float(grad_norm))
        if not math.isfinite(metrics["loss"]):
            raise FloatingPointError(f"loss became {metrics['loss']} at step {self.step_count}")
        return metrics

    def _summed_over_processes(self, sums: dict[str, float]) -> dict[str, float]:
        if self.accelerator is None:
            return sums
        keys = sorted(sums)
        totals = self.accelerator.reduce(torch.tensor([sums[k] for k in keys], dtype=torch.float64,
                                                      device=self.accelerator.device), "sum")  # fmt: skip
        return dict(zip(keys, totals.tolist(), strict=True))

    @torch.no_grad()
    def evaluate(self, pairs: list[TrainingPair], batch: int = 16, draws: int | None = None) -> dict:
        """Held-out metrics under fixed noise: implicit accuracy and the winners' error drift, each over
        pairs and per pair (the gate puts an interval over the pairs: worker/rounds/gate.py).

        Each pair is scored under `draws` (default held_out_draws) draws: noise from the draw's own seed,
        the timestep at the draw's quantile of the family's training draw, so every pair is seen across
        the noise levels training samples (stratified) and its mean is not one level's luck. A pair's
        draws are averaged into its value: the pairs, not the draws, are the independent unit."""
        self.denoiser.eval()
        if not pairs:
            return {}
        draws = draws or self.held_out_draws
        levels = self.noising.at_quantiles((torch.arange(draws, dtype=torch.float64) + 0.5) / draws)
        right, margin, drift = (torch.zeros(len(pairs), dtype=torch.float64) for _ in range(3))
        for draw in range(draws):
            for start in range(0, len(pairs), batch):
                chunk = pairs[start : start + batch]
                # Fixed draws, the same in every round (the seed is not the round's): comparable gates.
                seeds = [seed_of(EVAL_SEED, draw, start + j) for j in range(len(chunk))]
                terms = self.terms(chunk, seeds, train=False, timesteps=levels[draw].expand(len(chunk)))
                inside = terms.inside.double().cpu()
                at = slice(start, start + len(chunk))
                right[at] += (inside > 0).double() + 0.5 * (inside == 0).double()  # a tie counts one half
                margin[at] += inside
                # > 0: the model denoises the winner worse than the reference did (the collapse signature).
                drift[at] += ((terms.model_err_w - terms.ref_err_w) / terms.ref_err_w.clamp_min(1e-12)).double().cpu()
        accuracy, drift = right / draws, drift / draws
        return {
            "held_out_pairs": len(pairs),
            "held_out_draws": draws,
            "held_out_implicit_accuracy": accuracy.mean().item(),
            "held_out_reward_margin": (margin / draws).mean().item(),
            "held_out_winner_drift": drift.mean().item(),
            "held_out_implicit_accuracy_by_pair": accuracy.tolist(),
            "held_out_winner_drift_by_pair": drift.tolist(),
            "held_out_reward_margin_by_pair": (margin / draws).tolist(),
        }

    def sample_batches(self, pairs: list[TrainingPair]) -> list[TrainingPair]:
        """The next global batch (batch_pairs × grad_accumulation pairs, drawn with replacement), with
        the config's share of prompts emptied (classifier-free guidance keeps its unconditional half)."""
        c = self.config
        batch = [self.rng.choice(pairs) for _ in range(c.batch_pairs * c.grad_accumulation)]
        if c.empty_prompt_share:
            batch = [replace(p, prompt="") if self.rng.random() < c.empty_prompt_share else p for p in batch]
        return batch

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
        held, held_at = {}, None  # the last held-out evaluation and the step it measured
        while self.step_count < self.config.steps:
            if should_stop and should_stop():
                break
            metrics = self.train_step(self.sample_batches(pairs))
            if held_out and (self.step_count % self.config.eval_every == 0 or self.step_count == self.config.steps):
                last = self.step_count == self.config.steps
                draws = self.held_out_draws if last else min(self.held_out_draws, CURVE_DRAWS)
                with self.averaged_weights():  # the weights the round would save now
                    held, held_at = self.evaluate(held_out, draws=draws), self.step_count
                metrics.update({k: v for k, v in held.items() if not isinstance(v, list)})  # the curves: no per-pair
            if on_step:
                on_step(metrics)
        if self.ema is not None:
            self.ema.copy_to(self.params)  # from here on (final evaluation, save) the average is the model
            self.ema = None
        if held_out and (held_at != self.step_count or held.get("held_out_draws") != self.held_out_draws):
            held = self.evaluate(held_out)
        return held  # at the last step the weights are the ones just evaluated: no second evaluation

    @contextlib.contextmanager
    def averaged_weights(self):
        """The moving average's weights for a moment, training's back after (nothing without ema_decay)."""
        if self.ema is None:
            yield
            return
        self.ema.store(self.params)
        self.ema.copy_to(self.params)
        try:
            yield
        finally:
            self.ema.restore(self.params)

    def save(self, directory: Path) -> CheckpointKind:
        """Write weights plain diffusers reads into directory; returns the checkpoint kind."""
        directory.mkdir(parents=True, exist_ok=True)
        if self.config.method == "full":
            self.denoiser.save_pretrained(directory / self.family.denoiser, safe_serialization=True)
            return CheckpointKind.full
        from diffusers.utils import convert_state_dict_to_diffusers
        from peft.utils import get_peft_model_state_dict

        layers = convert_state_dict_to_diffusers(get_peft_model_state_dict(self.denoiser, adapter_name=ADAPTER))
        layers_arg = {f"{self.family.denoiser}_lora_layers": layers}  # unet_lora_layers or transformer_lora_layers
        config = adapter_metadata(self.family.denoiser, self.denoiser, ADAPTER)  # its alpha/r, for every reader
        type(self.pipe).save_lora_weights(directory, safe_serialization=True, **layers_arg, **config)
        return CheckpointKind.lora
