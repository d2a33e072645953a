"""Settings of a Diffusion-DPO training round, validated before a round starts (torch-free)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class DPOConfig(BaseModel):
    """Defaults fit the embedded model on a CPU; see the README for real SD/SDXL values (the
    reference code trains SD/SDXL at beta 5000, lr ≈ 2e-5 with 2048 pairs per step)."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["lora", "full"] = "lora"
    beta: float = Field(default=2000.0, gt=0, le=1e6)
    learning_rate: float = Field(default=1e-3, gt=0, le=1.0)
    steps: int = Field(default=300, ge=1, le=1_000_000)
    batch_pairs: int = Field(default=8, ge=1, le=4096)
    grad_accumulation: int = Field(default=1, ge=1, le=1024)
    warmup_steps: int = Field(default=10, ge=0)
    lora_rank: int = Field(default=8, ge=1, le=512)
    lora_alpha: float = Field(default=8.0, gt=0)
    lora_targets: list[str] = Field(default=["to_q", "to_k", "to_v", "to_out.0"], min_length=1)
    optimizer: Literal["adamw", "adafactor"] = "adamw"
    weight_decay: float = Field(default=0.0, ge=0, le=1)
    max_grad_norm: float = Field(default=1.0, gt=0)
    empty_prompt_share: float = Field(default=0.0, ge=0, lt=1)
    held_out_share: float = Field(default=0.1, ge=0, lt=1)
    gradient_checkpointing: bool = False
    mixed_precision: Literal["no", "fp16", "bf16"] = "no"  # GPU only
    seed: int = Field(default=0, ge=0)
    eval_every: int = Field(default=50, ge=1)
