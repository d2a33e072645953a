"""CLIP-based judges, with transformers' CLIPModel from a local directory:

- `clip`: CLIP score (Hessel et al., 2021) as 100 · max(cos(image, text), 0) — prompt alignment;
- `pickscore`: PickScore (Kirstain et al., 2023; a CLIP-H fine-tuned on Pick-a-Pic human
  preferences): logit_scale · cos(image, text), the preference model's own scale.

The directory holds the model (config.json + weights) and its processor (tokenizer files and
preprocessor_config.json), e.g. yuvalkirstain/PickScore_v1 with the processor files of
laion/CLIP-ViT-H-14-laion2B-s32B-b79K copied beside it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from worker.judges.base import JudgeUnavailable

BATCH = 32
WEIGHTS = ("model.safetensors", "pytorch_model.bin")
IMAGE_PROCESSOR = ("preprocessor_config.json", "processor_config.json")  # older and newer transformers


class CLIPJudge:
    def __init__(self, name: str, path: str | Path, device: torch.device | None = None):
        from transformers import CLIPModel, CLIPProcessor

        directory = Path(path)
        missing = [f for f in ("config.json", "tokenizer_config.json") if not (directory / f).is_file()]
        for either in (IMAGE_PROCESSOR, WEIGHTS):
            if not any((directory / f).is_file() for f in either):
                missing.append(" or ".join(either))
        if missing:
            raise JudgeUnavailable(f"judge {name}: {directory} lacks {', '.join(missing)} (a CLIP model directory "
                                   "with its processor files; nothing is downloaded)")  # fmt: skip
        self.name = name
        self.device = device or torch.device("cpu")
        self.model = CLIPModel.from_pretrained(directory, local_files_only=True).to(self.device).eval()
        self.processor = CLIPProcessor.from_pretrained(directory, local_files_only=True)

    @torch.no_grad()
    def score(self, prompts: list[str], images: list[Image.Image]) -> list[float]:
        scores: list[float] = []
        for start in range(0, len(images), BATCH):
            inputs = self.processor(text=prompts[start : start + BATCH], images=images[start : start + BATCH],
                                    return_tensors="pt", padding=True, truncation=True).to(self.device)  # fmt: skip
            image = self.model.get_image_features(pixel_values=inputs["pixel_values"])
            text = self.model.get_text_features(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])
            cosine = torch.nn.functional.cosine_similarity(_tensor(image), _tensor(text), dim=-1)
            if self.name == "pickscore":
                scores += (self.model.logit_scale.exp() * cosine).tolist()
            else:
                scores += (100 * cosine.clamp(min=0)).tolist()
        return scores

    @torch.no_grad()
    def embed(self, images: list[Image.Image]) -> np.ndarray:
        """Unit-length image embeddings, one row per image: the space the judge scores in, so a distance
        there is a difference the judge (and, for PickScore, people) would notice."""
        rows = []
        for start in range(0, len(images), BATCH):
            pixels = self.processor(images=images[start : start + BATCH], return_tensors="pt")["pixel_values"]
            features = _tensor(self.model.get_image_features(pixel_values=pixels.to(self.device)))
            rows.append(torch.nn.functional.normalize(features.float(), dim=-1).cpu().numpy())
        return np.concatenate(rows) if rows else np.zeros((0, 0), dtype=np.float32)


def _tensor(features) -> torch.Tensor:
    """transformers 5 returns a model output where 4 returned the pooled tensor."""
    return features if isinstance(features, torch.Tensor) else features.pooler_output
