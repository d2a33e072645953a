"""Value types handed between the database side and the workers (detached from any session)."""

from __future__ import annotations

from dataclasses import dataclass

from core.states import BASE_CHECKPOINT_ID, CheckpointKind


@dataclass(frozen=True)
class CheckpointRef:
    """What a worker needs to know to wear a checkpoint: a detached copy of its row."""

    id: int
    kind: CheckpointKind
    path: str | None  # the row's: a storage key (workers read it with core.storage.local_folder) or an absolute
    # folder; None for the base: settings.base_model


BASE_CHECKPOINT = CheckpointRef(id=BASE_CHECKPOINT_ID, kind=CheckpointKind.base, path=None)


@dataclass(frozen=True)
class Blend:
    """LoRA checkpoints worn together over the base, each at a weight (a weighted sum of their low-rank
    updates). No parts: the base. A full fine-tune is never a part: it replaces the denoiser and so
    cannot be mixed."""

    parts: tuple[tuple[CheckpointRef, float], ...]

    def describe(self) -> dict[str, float]:
        """{checkpoint id: weight}, as a generation records it (JSON keys are strings)."""
        return {str(ref.id): weight for ref, weight in self.parts}
