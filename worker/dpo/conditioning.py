"""Text conditioning for training, computed once per prompt per round with the pipeline's own code.

SD 1.x/2.x: the text encoder's hidden states. SDXL: both encoders' hidden states concatenated,
the pooled embedding, and the size/crop `add_time_ids` (the generation's own size, no crop, since
the training latents are the model's own generations).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from core.family import ModelFamily


@dataclass
class Conditioning:
    """A batch of conditions, ready to be passed to the UNet."""

    hidden: torch.Tensor  # (B, tokens, dim)
    pooled: torch.Tensor | None = None  # SDXL: (B, projection_dim)
    time_ids: torch.Tensor | None = None  # SDXL: (B, 6)

    def unet_kwargs(self) -> dict:
        kwargs = {"encoder_hidden_states": self.hidden}
        if self.pooled is not None:
            kwargs["added_cond_kwargs"] = {"text_embeds": self.pooled, "time_ids": self.time_ids}
        return kwargs

    def repeat(self, times: int) -> Conditioning:
        """The same conditions for winner and loser: [c; c]."""
        cat = lambda x: None if x is None else torch.cat([x] * times)  # noqa: E731
        return Conditioning(cat(self.hidden), cat(self.pooled), cat(self.time_ids))


class PromptEncoder:
    """Caches one embedding per (prompt, size); the text encoders stay frozen during a round."""

    def __init__(self, pipe, family: ModelFamily):
        self.pipe, self.family = pipe, family
        self._cache: dict[tuple[str, int, int], Conditioning] = {}

    @torch.no_grad()
    def encode(self, prompt: str, height: int, width: int) -> Conditioning:
        key = (prompt, height, width)
        if key not in self._cache:
            device = self.pipe.unet.device
            if self.family.is_xl:
                hidden, _, pooled, _ = self.pipe.encode_prompt(prompt, device=device, do_classifier_free_guidance=False)
                projection = self.pipe.text_encoder_2.config.projection_dim
                time_ids = self.pipe._get_add_time_ids(
                    (height, width), (0, 0), (height, width), dtype=hidden.dtype, text_encoder_projection_dim=projection
                ).to(device)
                self._cache[key] = Conditioning(hidden, pooled, time_ids)
            else:
                hidden, _ = self.pipe.encode_prompt(prompt, device, 1, False)
                self._cache[key] = Conditioning(hidden)
        return self._cache[key]

    def batch(self, prompts: list[str], height: int, width: int) -> Conditioning:
        parts = [self.encode(p, height, width) for p in prompts]
        stack = lambda xs: None if xs[0] is None else torch.cat(xs)  # noqa: E731
        return Conditioning(
            stack([p.hidden for p in parts]), stack([p.pooled for p in parts]), stack([p.time_ids for p in parts])
        )
