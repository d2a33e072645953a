"""The model a round trains: the base pipeline, put into the state of the start checkpoint, with
the reference the settings ask for (base or active checkpoint)."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import torch

from core.family import ModelFamily
from core.refs import CheckpointRef
from core.schemas.rounds import DPOConfig
from core.services.rounds import RoundClaim
from core.settings import Settings
from core.states import CheckpointKind, RoundState
from worker.checkpoint_io import on_this_machine, read_card
from worker.dpo.trainer import DPOTrainer, RefusedConfig
from worker.generation.generator import Generator
from worker.generation.loading import load_pipeline
from worker.rounds.stopped import RoundStopped


@dataclass
class RoundModel:
    """The pipeline a round trains, its family, and the trainer that holds model and reference."""

    pipe: object
    family: ModelFamily
    trainer: DPOTrainer

    def generator(self) -> Generator:
        """The pipeline as it is now, for the judge (evaluation mode: no dropout)."""
        getattr(self.pipe, self.family.denoiser).eval()
        return Generator.from_pipeline(self.pipe, self.family)


def training_config(config: DPOConfig, settings: Settings) -> DPOConfig:
    """The round's config as trained: a guidance-distilled model trains at the guidance its pairs were drawn with."""
    if config.guidance is None:
        return config.model_copy(update={"guidance": settings.default_guidance})
    return config


def open_round_model(base_model: str, device, config: DPOConfig, start: CheckpointRef,
                     reference: CheckpointRef) -> RoundModel:  # fmt: skip
    """The base pipeline on device and its trainer (RefusedConfig for settings the model refuses). The
    seed makes the LoRA's initial weights: the same in every process of a data-parallel round."""
    pipe, family = load_pipeline(base_model, device)
    pipe.set_progress_bar_config(disable=True)
    torch.manual_seed(config.seed)
    return RoundModel(pipe, family, build_trainer(pipe, family, config, start, reference))


def load_round_model(claim: RoundClaim, settings: Settings) -> RoundModel:
    """Load the base pipeline and build the trainer; RoundStopped for settings the model refuses."""
    torch.set_num_threads(settings.torch_threads)
    device = torch.device(settings.device) if settings.device else None
    config = training_config(claim.config, settings)
    try:
        start, reference = on_this_machine(settings, claim.start), on_this_machine(settings, claim.reference)
        model = open_round_model(settings.base_model, device, config, start, reference)
    except RefusedConfig as exc:
        raise RoundStopped(RoundState.failed, f"refused: {exc}") from exc
    model.trainer.held_out_draws = settings.gate_draws
    return model


def _made_with(ref: CheckpointRef) -> DPOConfig:
    """The LoRA shape a checkpoint was trained with, from its card."""
    try:
        return DPOConfig(**read_card(Path(ref.path))["config"])
    except (OSError, KeyError, ValueError) as exc:
        raise RefusedConfig(f"checkpoint {ref.id} has no readable card to continue from: {exc}") from exc


def _apply_full_weights(pipe, family: ModelFamily, ref: CheckpointRef) -> None:
    """Put a checkpoint's weights into the denoiser for good (fused LoRA, or a whole fine-tuned one)."""
    if ref.kind == CheckpointKind.lora:
        pipe.load_lora_weights(ref.path, adapter_name="parent")
        pipe.fuse_lora(adapter_names=["parent"])
        pipe.unload_lora_weights()
    elif ref.kind == CheckpointKind.full:
        denoiser = getattr(pipe, family.denoiser)
        tuned = type(denoiser).from_pretrained(str(Path(ref.path) / family.denoiser))
        denoiser.load_state_dict(tuned.state_dict())


def build_trainer(
    pipe, family: ModelFamily, config: DPOConfig, start: CheckpointRef, reference: CheckpointRef
) -> DPOTrainer:
    """A trainer whose model starts as `start` and whose frozen reference is `reference`."""
    if config.method == "lora":
        if CheckpointKind.full in (start.kind, reference.kind):
            raise RefusedConfig(
                "a LoRA round cannot build on a full fine-tune: set DPOLOOP_ROUND_START_FROM=base and "
                "DPOLOOP_ROUND_REFERENCE=base, or train with method 'full'"
            )
        init = Path(start.path) if start.kind == CheckpointKind.lora else None
        parent = _made_with(start) if init is not None else config
        if parent.lora_rank != config.lora_rank:
            raise RefusedConfig(
                f"checkpoint {start.id} has LoRA rank {parent.lora_rank}, this round asks for {config.lora_rank}: "
                "start from the base to change rank"
            )
        ref_lora = (Path(reference.path), _made_with(reference)) if reference.kind == CheckpointKind.lora else None
        # Another alpha than the parent's only changes how fast the update moves from here, not where it starts.
        return DPOTrainer(pipe, family, config, init_lora=init, reference_lora=ref_lora)
    # Full fine-tune: the reference is a frozen copy taken when the denoiser is in the reference's state.
    if reference.kind != CheckpointKind.base and reference.id != start.id:
        raise RefusedConfig(
            f"a full fine-tune's reference must be the base or its start checkpoint, not {reference.id}"
        )
    denoiser = getattr(pipe, family.denoiser)
    frozen = copy.deepcopy(denoiser) if reference.kind == CheckpointKind.base else None
    _apply_full_weights(pipe, family, start)
    return DPOTrainer(pipe, family, config, reference_model=frozen if frozen is not None else copy.deepcopy(denoiser))
