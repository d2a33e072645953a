"""Batched, seeded text-to-image generation on a loaded pipeline, with optional LoRA or denoiser overlays
(a fine-tuned UNet, or SD3's/FLUX's transformer).

Not thread-safe (a diffusers pipeline keeps per-call state in its scheduler): callers serialize
calls, and the serving worker holds a lock around generate() and any overlay change.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable
from itertools import groupby
from pathlib import Path

import torch

from core.family import ModelFamily
from core.schemas.generation import MAX_SEED, GenerationParams
from worker.generation.loading import load_pipeline
from worker.generation.lora_file import read_as_worn
from worker.generation.result import GeneratedImage

ProgressCallback = Callable[[int, int], None]  # (steps done, steps in all)


class GenerationError(ValueError):
    """Parameters this model cannot honour."""


class Generator:
    def __init__(self, model: str | Path, device: torch.device | None = None, dtype: torch.dtype | None = None):
        self.model = str(model)
        self.pipe, self.family = load_pipeline(model, device, dtype)
        self.weights = "base"
        self._base_denoiser = None
        self._loras_on = True  # adapters held are switched on (use_loras({}) switches them off: the base)

    @classmethod
    def from_pipeline(cls, pipe, family: ModelFamily = ModelFamily.sd, model: str = "(in memory)") -> Generator:
        """Wrap a pipeline that is already built (the training script evaluates this way)."""
        self = cls.__new__(cls)
        self.model, self.pipe, self.family = model, pipe, family
        self.weights, self._base_denoiser, self._loras_on = "base", None, True
        pipe.set_progress_bar_config(disable=True)
        return self

    @property
    def vae_scale_factor(self) -> int:
        return self.pipe.vae_scale_factor

    @property
    def denoiser(self):
        """The network that runs each sampling step: the UNet, or the transformer."""
        return getattr(self.pipe, self.family.denoiser)

    @property
    def default_size(self) -> int:
        """The size the model was trained at, in pixels."""
        sample_size = getattr(self.denoiser.config, "sample_size", None)
        return self.family.native_size(sample_size, self.vae_scale_factor, self.pipe.vae.config.sample_size)

    @property
    def size_step(self) -> int:
        """Width and height are multiples of this (FLUX packs 2×2 latents into a token)."""
        return self.vae_scale_factor * (2 if self.family is ModelFamily.flux else 1)

    # ---- overlays -------------------------------------------------------------------------
    # Each overlay comes in two halves: read_* does the slow, fallible part (files, a new module)
    # without touching the pipeline, so a server can do it beside a running generation; wear_*
    # puts it on, fast, under the server's lock.
    def read_lora(self, path: str | Path) -> dict:
        """The LoRA weights of a checkpoint directory, scaled as the adapter trained (lora_file)."""
        return read_as_worn(path, self.family.denoiser)

    # Several LoRAs held at once, each a named adapter ("slot"), worn alone or blended: switching among
    # them changes a scale per layer and reads no file.
    def hold_lora(self, state: dict, slot: str) -> None:
        """Load LoRA weights as a new adapter named `slot` beside those held (a full fine-tune's denoiser, if
        on, is taken off first). A name is never reused: hotswapping into a held name keeps the old LoRA in
        layers the new one does not target, and peft matches names by substring."""
        if self._base_denoiser is not None:
            self.unload_overlays()
        self.pipe.load_lora_weights(dict(state), adapter_name=slot)

    def held_slots(self) -> set[str]:
        return set(getattr(self.denoiser, "peft_config", None) or {})

    def drop_lora(self, slot: str) -> None:
        """Remove adapter `slot` from every layer, also after a load that failed half-way (which may leave
        layers behind without a config entry)."""
        from diffusers.utils.peft_utils import delete_adapter_layers

        if slot in self.held_slots():
            self.pipe.delete_adapters(slot)
        else:
            delete_adapter_layers(self.denoiser, slot)

    def use_loras(self, weights: dict[str, float], label: str) -> None:
        """Generate with these held adapters at these weights from now on (none: the base's weights)."""
        if not weights:
            if self.held_slots():
                self.denoiser.disable_adapters()
            self._loras_on = False
        else:
            self.pipe.set_adapters(list(weights), adapter_weights=list(weights.values()))
            self.denoiser.enable_adapters()
            self._loras_on = True
        self.weights = label

    def read_denoiser(self, checkpoint: str | Path):
        """A fully fine-tuned denoiser (the checkpoint's unet/ or transformer/), built beside the served one."""
        base = self._base_denoiser or self.denoiser
        path = Path(checkpoint) / self.family.denoiser
        return type(base).from_pretrained(str(path), dtype=base.dtype).to(self.pipe.device).eval()

    def wear_denoiser(self, denoiser, label: str) -> None:
        self.unload_overlays()
        self._base_denoiser = self.denoiser
        setattr(self.pipe, self.family.denoiser, denoiser)
        self.weights = f"{self.family.denoiser}:{label}"

    def load_lora(self, path: str | Path, adapter_name: str = "checkpoint") -> None:
        """Put LoRA weights (a directory with pytorch_lora_weights.safetensors) on top of the base, in place
        of any overlay."""
        state = self.read_lora(path)
        self.unload_overlays()
        self.pipe.load_lora_weights(state, adapter_name=adapter_name)
        self.weights = f"lora:{path}"

    def load_denoiser(self, checkpoint: str | Path) -> None:
        """Serve a full checkpoint's fine-tuned UNet or transformer instead of the base's."""
        self.wear_denoiser(self.read_denoiser(checkpoint), str(checkpoint))

    @torch.no_grad()
    def smoke_test(self) -> None:
        """One tiny generation: raises if the weights now worn give non-finite output."""
        size = self.default_size
        latents = self.pipe(prompt=[""], num_inference_steps=2, guidance_scale=1.0, width=size, height=size,
                            output_type="latent", generator=torch.Generator("cpu").manual_seed(0)).images  # fmt: skip
        if not torch.isfinite(latents).all():
            raise GenerationError("the checkpoint produces non-finite output")

    @contextlib.contextmanager
    def base_weights(self):
        """The base's denoiser for a moment, the overlay back on after (no files read, nothing copied).
        Text encoders stay as worn: dpoloop's checkpoints never train them."""
        if self._base_denoiser is not None:
            worn = self.denoiser
            setattr(self.pipe, self.family.denoiser, self._base_denoiser)
            try:
                yield
            finally:
                setattr(self.pipe, self.family.denoiser, worn)
        elif self._loras_on and getattr(self.denoiser, "peft_config", None):
            self.denoiser.disable_adapters()
            try:
                yield
            finally:
                self.denoiser.enable_adapters()
        else:
            yield

    def unload_overlays(self) -> None:
        """Back to the base weights, exactly."""
        if self._base_denoiser is not None:
            setattr(self.pipe, self.family.denoiser, self._base_denoiser)
            self._base_denoiser = None
        if getattr(self.denoiser, "peft_config", None):
            self.pipe.unload_lora_weights()
        self.weights, self._loras_on = "base", True

    # ---- generation -----------------------------------------------------------------------
    def resolve(self, params: GenerationParams) -> GenerationParams:
        """Fill in seed and size, and refuse what this model cannot make."""
        width = params.width or self.default_size
        height = params.height or self.default_size
        factor, largest = self.size_step, 2 * self.default_size
        if width % factor or height % factor:
            raise GenerationError(f"width and height must be multiples of {factor} for this model")
        if width > largest or height > largest:
            # Far beyond its training size a model draws garbage, slowly: refuse instead.
            raise GenerationError(f"this model draws at most {largest}×{largest} (trained at {self.default_size})")
        seed = params.seed if params.seed is not None else random.randint(0, MAX_SEED)
        return params.model_copy(update={"width": width, "height": height, "seed": seed})

    def generate(
        self, requests: list[GenerationParams], progress: ProgressCallback | None = None
    ) -> list[GeneratedImage]:
        """Images for requests, in order. Requests sharing steps, guidance and size run as one batch."""
        resolved = [self.resolve(p) for p in requests]
        key = lambda item: (  # noqa: E731
            item[1].num_inference_steps,
            item[1].guidance_scale,
            item[1].width,
            item[1].height,
        )
        results: list[GeneratedImage | None] = [None] * len(resolved)
        batches = [list(group) for _, group in groupby(sorted(enumerate(resolved), key=key), key=key)]
        total = sum(group[0][1].num_inference_steps for group in batches)
        done = 0
        for group in batches:
            images = self._generate_batch([p for _, p in group], progress, done, total)
            for (index, _), image in zip(group, images, strict=True):
                results[index] = image
            done += group[0][1].num_inference_steps
        return results  # type: ignore[return-value]

    @torch.no_grad()
    def _generate_batch(
        self, batch: list[GenerationParams], progress: ProgressCallback | None, done: int, total: int
    ) -> list[GeneratedImage]:
        first = batch[0]
        negatives = [p.negative_prompt for p in batch]

        def on_step(pipe, step, timestep, kwargs):
            if progress:
                progress(done + step + 1, total)
            return kwargs

        extra = {}
        if any(negatives) and self.family is not ModelFamily.flux:  # FLUX.1 has no negative prompt (guidance-distilled)
            extra["negative_prompt"] = negatives
        latents = self.pipe(
            prompt=[p.prompt for p in batch],
            generator=[torch.Generator("cpu").manual_seed(p.seed) for p in batch],
            num_inference_steps=first.num_inference_steps,
            guidance_scale=first.guidance_scale,
            width=first.width,
            height=first.height,
            output_type="latent",
            callback_on_step_end=on_step,
            **extra,
        ).images
        latents = self._unpacked(latents, first.height, first.width)
        images = self.decode(latents)
        return [
            GeneratedImage(params=p, image=img, latents=lat.float().cpu().numpy(), weights=self.weights)
            for p, img, lat in zip(batch, images, latents, strict=True)
        ]

    def _unpacked(self, latents: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """FLUX returns latents packed as 2×2 tokens: back to (B, C, h, w), the one layout dpoloop stores."""
        if self.family is not ModelFamily.flux:
            return latents
        return self.pipe._unpack_latents(latents, height, width, self.vae_scale_factor)

    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> list:
        """Scaled latents → PIL images, as the pipelines do it (fp32 VAE where fp16 would overflow)."""
        vae = self.pipe.vae
        upcast = vae.dtype == torch.float16 and getattr(vae.config, "force_upcast", False)
        dtype = torch.float32 if upcast else vae.dtype
        if upcast:
            vae.to(torch.float32)
        try:
            x = latents.to(dtype)
            mean, std = getattr(vae.config, "latents_mean", None), getattr(vae.config, "latents_std", None)
            if mean is not None and std is not None:
                shape = (1, -1, 1, 1)
                mean_t = torch.tensor(mean, dtype=dtype, device=x.device).view(shape)
                std_t = torch.tensor(std, dtype=dtype, device=x.device).view(shape)
                x = x * std_t / vae.config.scaling_factor + mean_t
            else:
                x = x / vae.config.scaling_factor + (getattr(vae.config, "shift_factor", None) or 0.0)
            decoded = vae.decode(x).sample
        finally:
            if upcast:
                vae.to(torch.float16)
        return self.pipe.image_processor.postprocess(decoded, output_type="pil")
