"""Caption → text-encoder hidden states, the way StableDiffusionPipeline encodes prompts."""

from __future__ import annotations

import torch


class CaptionEncoder:
    """Tokenizes with padding to the tokenizer's max length and caches token ids per caption."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self._ids: dict[str, torch.Tensor] = {}

    def ids(self, captions: list[str]) -> torch.Tensor:
        missing = [c for c in dict.fromkeys(captions) if c not in self._ids]
        if missing:
            encoded = self.tokenizer(
                missing,
                padding="max_length",
                max_length=self.tokenizer.model_max_length,
                truncation=True,
                return_tensors="pt",
            ).input_ids
            self._ids.update(zip(missing, encoded, strict=True))
        return torch.stack([self._ids[c] for c in captions])

    def encode(self, text_encoder, captions: list[str]) -> torch.Tensor:
        return text_encoder(self.ids(captions))[0]
