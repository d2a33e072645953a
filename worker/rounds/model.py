"""The model a round trains: the base pipeline, put into the state of the start checkpoint, with
the reference the settings ask for (base or active checkpoint)."""

from __future__ import annotations

import copy
from pathlib import Path

from app.schemas.rounds import DPOConfig
from worker.dpo.trainer import DPOTrainer, RefusedConfig
from worker.rounds.checkpoint_io import read_card
from worker.serving import CheckpointRef


def _made_with(ref: CheckpointRef) -> DPOConfig:
    """The LoRA shape a checkpoint was trained with, from its card."""
    try:
        return DPOConfig(**read_card(Path(ref.path))["config"])
    except (OSError, KeyError, ValueError) as exc:
        raise RefusedConfig(f"checkpoint {ref.id} has no readable card to continue from: {exc}") from exc


def _apply_full_weights(pipe, ref: CheckpointRef) -> None:
    """Put a checkpoint's weights into pipe.unet for good (fused LoRA, or a whole fine-tuned UNet)."""
    from diffusers import UNet2DConditionModel

    if ref.kind == "lora":
        pipe.load_lora_weights(ref.path, adapter_name="parent")
        pipe.fuse_lora(adapter_names=["parent"])
        pipe.unload_lora_weights()
    elif ref.kind == "full":
        unet = UNet2DConditionModel.from_pretrained(str(Path(ref.path) / "unet"))
        pipe.unet.load_state_dict(unet.state_dict())


def build_trainer(pipe, family: str, config: DPOConfig, start: CheckpointRef, reference: CheckpointRef) -> DPOTrainer:
    """A trainer whose model starts as `start` and whose frozen reference is `reference`."""
    if config.method == "lora":
        if start.kind == "full" or reference.kind == "full":
            raise RefusedConfig(
                "a LoRA round cannot build on a full fine-tune: set DPOLOOP_ROUND_START_FROM=base and "
                "DPOLOOP_ROUND_REFERENCE=base, or train with method 'full'"
            )
        init = Path(start.path) if start.kind == "lora" else None
        rank = _made_with(start).lora_rank if init is not None else config.lora_rank
        if rank != config.lora_rank:
            raise RefusedConfig(
                f"checkpoint {start.id} has LoRA rank {rank}, this round asks for {config.lora_rank}: "
                "start from the base to change rank"
            )
        ref_lora = (Path(reference.path), _made_with(reference)) if reference.kind == "lora" else None
        return DPOTrainer(pipe, family, config, init_lora=init, reference_lora=ref_lora)
    # Full fine-tune: the reference is a frozen copy taken when the UNet is in the reference's state.
    if reference.kind != "base" and reference.id != start.id:
        raise RefusedConfig(
            f"a full fine-tune's reference must be the base or its start checkpoint, not {reference.id}"
        )
    frozen = copy.deepcopy(pipe.unet) if reference.kind == "base" else None
    _apply_full_weights(pipe, start)
    return DPOTrainer(pipe, family, config, reference_unet=frozen if frozen is not None else copy.deepcopy(pipe.unet))
