"""Settings of a Diffusion-DPO training round, validated before a round starts (torch-free)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator


class DPOConfig(BaseModel):
    """Defaults fit the embedded model on a CPU; see the README for real SD/SDXL values (the
    reference code trains SD/SDXL at beta 5000, lr ≈ 2e-5 with 2048 pairs per step)."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["lora", "full"] = "lora"
    beta: float = Field(default=2000.0, gt=0, le=1e6)
    # DPO-Positive's lambda: loss for a winner denoised worse than under the reference (0: plain DPO).
    winner_penalty: float = Field(default=0.0, ge=0, le=1e4)
    learning_rate: float = Field(default=2e-3, gt=0, le=1.0)
    steps: int = Field(default=400, ge=1, le=1_000_000)
    batch_pairs: int = Field(default=8, ge=1, le=4096)
    grad_accumulation: int = Field(default=1, ge=1, le=1024)
    # Noise draws per pair per step: each pair is noised at this many (noise, timestep) draws and the
    # loss averages them. The objective is an expectation over both; one draw per pair is a noisy
    # estimate of it, and the paper's batches of 2048 pairs averaged that noise away. A micro-batch
    # holds batch_pairs × noise_draws noised pairs.
    noise_draws: int = Field(default=1, ge=1, le=64)
    warmup_steps: int = Field(default=10, ge=0)
    lora_rank: int = Field(default=8, ge=1, le=512)
    lora_alpha: float = Field(default=8.0, gt=0)
    lora_targets: list[str] = Field(default=["to_q", "to_k", "to_v", "to_out.0"], min_length=1)
    optimizer: Literal["adamw", "adafactor"] = "adamw"
    weight_decay: float = Field(default=0.0, ge=0, le=1)
    max_grad_norm: float = Field(default=1.0, gt=0)
    # An exponential moving average of the trained weights is what the round evaluates and saves
    # (0: off, the last step's weights). Warmed up as diffusers' EMAModel does: step 1 is copied, and
    # after optimizer step k ≥ 2 the average moves with decay min(ema_decay, k/(k+9)).
    ema_decay: float = Field(default=0.0, ge=0, lt=1)
    empty_prompt_share: float = Field(default=0.0, ge=0, lt=1)
    held_out_share: float = Field(default=0.1, ge=0, lt=1)
    # The newest decisive pairs a round loads: its memory stays flat however long the vote history grows.
    max_pairs: int = Field(default=4096, ge=1, le=1_000_000)
    gradient_checkpointing: bool = False
    # A guidance-distilled model's guidance embedding while training (FLUX.1-dev); None: the
    # generation default (DPOLOOP_DEFAULT_GUIDANCE), as the pairs were drawn.
    guidance: float | None = Field(default=None, ge=0, le=30)
    mixed_precision: Literal["no", "fp16", "bf16"] = "no"  # GPU only
    seed: int = Field(default=0, ge=0)
    eval_every: int = Field(default=50, ge=1)
    # The checkpoint to train from (default: the one that serves): rebuild from one untouched by a
    # labeler whose votes were retracted (GET /admin/labelers/{id}/lineage names it).
    start_from: int | None = Field(default=None, ge=1, le=2_147_483_647)
    # AI labelers' votes (`dpoloop ai-label`): left out (default), counted with the humans', or alone.
    ai_votes: Literal["exclude", "include", "only"] = "exclude"
    # What the round trains on: the labelers' votes and/or imported sets ("import:NAME").
    sources: list[str] = Field(default=["votes"], min_length=1, max_length=32)
    # Each source's own budget within max_pairs, newest first: a source named here gives up to that many
    # pairs (kept for it); the others share the rest evenly, what one leaves unused going to the rest.
    # Ids of different sources come from different sequences: sorted together, one large import would
    # take every slot.
    source_max_pairs: dict[str, int] = Field(default_factory=dict, max_length=32)
    # With "reward" among the sources: this many extra pairs, rendered by the start checkpoint before
    # training (on-policy, prompts of the pool) and labelled by the campaign's preference model; a pair
    # is kept only when the model gives its winner at least reward_confidence (σ of the score margin).
    # The human pairs weigh as they always did: these are added to them, not mixed into their budgets.
    reward_pairs: int = Field(default=0, ge=0, le=100_000)
    reward_confidence: float = Field(default=0.75, gt=0.5, lt=1)

    @field_validator("sources")
    @classmethod
    def _known_kinds(cls, sources: list[str]) -> list[str]:
        for source in sources:
            imported = source.startswith("import:") and len(source) > len("import:")
            if source not in ("votes", "reward") and not imported:
                raise ValueError(f'{source!r}: a source is "votes", "reward" or "import:NAME"')
        if len(set(sources)) != len(sources):
            raise ValueError("a source is named twice")
        return sources

    @field_validator("source_max_pairs")
    @classmethod
    def _budgets_fit(cls, budgets: dict[str, int], info: ValidationInfo) -> dict[str, int]:
        sources, max_pairs = info.data.get("sources"), info.data.get("max_pairs")  # None: invalid, said already
        for source, budget in budgets.items():
            if sources is not None and source not in sources:
                raise ValueError(f"{source!r} is not one of the round's sources")
            if budget < 1:
                raise ValueError(f"{source!r} needs a budget of at least 1 pair")
        if max_pairs is not None and sum(budgets.values()) > max_pairs:
            raise ValueError(f"the budgets add up to {sum(budgets.values())}, more than max_pairs ({max_pairs})")
        if "reward" in budgets:
            raise ValueError("reward pairs are counted by reward_pairs, not by a budget")
        return budgets

    @model_validator(mode="after")
    def _reward_pairs_named(self) -> DPOConfig:  # after: reward_pairs' default is checked too
        if "reward" in self.sources and self.reward_pairs < 1:
            raise ValueError('with "reward" among the sources, reward_pairs says how many (at least 1)')
        if self.reward_pairs and "reward" not in self.sources:
            raise ValueError('reward_pairs needs "reward" among the sources')
        if self.sources == ["reward"]:
            raise ValueError('"reward" adds to human pairs: name "votes" or an "import:NAME" beside it')
        return self


# Defaults per model family. "scenes" is a model made by `dpoloop base-model train` (it ships
# training.json); its values were measured with bench/loop_efficacy.py. SD and SDXL follow the
# reference code's beta 5000 with LoRA-sized learning rates, gradient checkpointing and bf16 on GPU.
FAMILY_DEFAULTS: dict[str, dict] = {
    "scenes": {},
    "sd": {"beta": 5000.0, "learning_rate": 1e-4, "steps": 1000, "batch_pairs": 8, "grad_accumulation": 4,
           "gradient_checkpointing": True, "mixed_precision": "bf16", "empty_prompt_share": 0.1},
    "sdxl": {"beta": 5000.0, "learning_rate": 5e-5, "steps": 1000, "batch_pairs": 4, "grad_accumulation": 8,
             "gradient_checkpointing": True, "mixed_precision": "bf16", "empty_prompt_share": 0.1},
    # Rectified flow: the error is on the velocity, 1/(1 − t)² times the noise error at the same t
    # (4× at t = 0.5, 16× at SD3's shifted median t = 0.75), so beta is ~10× smaller than SD's 5000
    # for the same implicit-reward scale (worker/dpo/objective.py). FLUX.1-dev is guidance-distilled:
    # no empty-prompt dropout, which would train an unconditional branch it never uses.
    "sd3": {"beta": 500.0, "learning_rate": 5e-5, "steps": 1000, "batch_pairs": 4, "grad_accumulation": 8,
            "lora_rank": 16, "lora_alpha": 16.0, "gradient_checkpointing": True, "mixed_precision": "bf16",
            "empty_prompt_share": 0.1},
    "flux": {"beta": 500.0, "learning_rate": 5e-5, "steps": 1000, "batch_pairs": 2, "grad_accumulation": 16,
             "lora_rank": 16, "lora_alpha": 16.0, "gradient_checkpointing": True, "mixed_precision": "bf16",
             "empty_prompt_share": 0.0},
}  # fmt: skip


def round_config(family: str, *overrides: dict) -> DPOConfig:
    """The family's defaults, then each layer of overrides (settings, then the request); validated."""
    merged: dict = dict(FAMILY_DEFAULTS.get(family, {}))
    for layer in overrides:
        merged.update(layer or {})
    return DPOConfig(**merged)
