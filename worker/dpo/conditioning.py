"""Text conditioning for training, computed once per prompt per round with the pipeline's own code,
and the denoiser's call with it (each family names its inputs differently).

SD 1.x/2.x: the text encoder's hidden states. SDXL: both encoders' hidden states concatenated,
the pooled embedding, and the size/crop `add_time_ids` (the generation's own size, no crop, since
the training latents are the model's own generations). SD3: CLIP ×2 + T5 hidden states and the
pooled CLIP embeddings. FLUX: T5 hidden states, the pooled CLIP embedding, the text and image
position ids, latents packed 2×2 into tokens, and the guidance embedding set as at inference.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from core.family import ModelFamily


@dataclass
class Conditioning:
    """A batch of conditions: per-sample tensors (stacked on dim 0) and tensors every sample shares."""

    family: ModelFamily
    batched: dict[str, torch.Tensor]
    shared: dict[str, torch.Tensor] = field(default_factory=dict)

    def repeat(self, times: int) -> Conditioning:
        """The same conditions for winner and loser: [c; c]."""
        return Conditioning(self.family, {k: torch.cat([v] * times) for k, v in self.batched.items()}, self.shared)

    def predict(self, model, noisy: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        """The denoiser's output for noisy latents (B, C, h, w) at the scheduler's timesteps, shaped like them."""
        if self.family is ModelFamily.flux:
            return _flux_predict(model, noisy, timesteps, self)
        if self.family is ModelFamily.sd3:
            return model(hidden_states=noisy, timestep=timesteps, return_dict=False, **self.batched)[0]
        kwargs = {"encoder_hidden_states": self.batched["hidden"]}
        if "pooled" in self.batched:
            kwargs["added_cond_kwargs"] = {"text_embeds": self.batched["pooled"], "time_ids": self.batched["time_ids"]}
        return model(noisy, timesteps, **kwargs).sample


def _flux_predict(model, noisy: torch.Tensor, timesteps: torch.Tensor, cond: Conditioning) -> torch.Tensor:
    from diffusers import FluxPipeline

    b, c, h, w = noisy.shape
    packed = FluxPipeline._pack_latents(noisy, b, c, h, w)
    image_ids = FluxPipeline._prepare_latent_image_ids(b, h // 2, w // 2, noisy.device, noisy.dtype)
    guidance = cond.shared.get("guidance")
    out = model(
        hidden_states=packed, timestep=timesteps / 1000,  # FLUX takes t in [0, 1], as its pipeline passes it
        guidance=None if guidance is None else guidance.expand(b), img_ids=image_ids, txt_ids=cond.shared["txt_ids"],
        return_dict=False, **cond.batched,
    )[0]  # fmt: skip
    return FluxPipeline._unpack_latents(out, h, w, vae_scale_factor=1)  # h, w are latent sizes already


class PromptEncoder:
    """Caches one embedding per (prompt, size); the text encoders stay frozen during a round."""

    def __init__(self, pipe, family: ModelFamily, guidance: float | None = None):
        self.pipe, self.family = pipe, family
        self.device = getattr(pipe, family.denoiser).device
        self.guidance = guidance
        self._cache: dict[tuple[str, int, int], Conditioning] = {}

    @torch.no_grad()
    def encode(self, prompt: str, height: int, width: int) -> Conditioning:
        key = (prompt, height, width)
        if key not in self._cache:
            self._cache[key] = self._encode(prompt, height, width)
        return self._cache[key]

    def _encode(self, prompt: str, height: int, width: int) -> Conditioning:
        pipe, device = self.pipe, self.device
        if self.family is ModelFamily.flux:
            hidden, pooled, text_ids = pipe.encode_prompt(prompt, prompt_2=None, device=device)
            shared = {"txt_ids": text_ids}
            if getattr(pipe.transformer.config, "guidance_embeds", False):
                shared["guidance"] = torch.tensor([self.guidance if self.guidance is not None else 3.5], device=device)
            return Conditioning(self.family, {"encoder_hidden_states": hidden, "pooled_projections": pooled}, shared)
        if self.family is ModelFamily.sd3:
            encoded = pipe.encode_prompt(prompt, None, None, device=device, do_classifier_free_guidance=False)
            hidden, pooled = encoded[0], encoded[2]
            return Conditioning(self.family, {"encoder_hidden_states": hidden, "pooled_projections": pooled})
        if self.family.is_xl:
            hidden, _, pooled, _ = pipe.encode_prompt(prompt, device=device, do_classifier_free_guidance=False)
            projection = pipe.text_encoder_2.config.projection_dim
            time_ids = pipe._get_add_time_ids(
                (height, width), (0, 0), (height, width), dtype=hidden.dtype, text_encoder_projection_dim=projection
            ).to(device)
            return Conditioning(self.family, {"hidden": hidden, "pooled": pooled, "time_ids": time_ids})
        hidden, _ = pipe.encode_prompt(prompt, device, 1, False)
        return Conditioning(self.family, {"hidden": hidden})

    def batch(self, prompts: list[str], height: int, width: int) -> Conditioning:
        parts = [self.encode(p, height, width) for p in prompts]
        keys = parts[0].batched.keys()
        return Conditioning(self.family, {k: torch.cat([p.batched[k] for p in parts]) for k in keys}, parts[0].shared)
