"""A round's training step of the run: fit the trainer, storing each step's metrics as it happens
(the curves, and the round's heartbeat) and stopping at an admin's cancel."""

from __future__ import annotations

import statistics
import time

from core.services import rounds
from core.services.rounds import RoundClaim
from core.states import RoundState
from worker.rounds.data import RoundData
from worker.rounds.model import RoundModel
from worker.rounds.stopped import RoundStopped


def train(claim: RoundClaim, model: RoundModel, data: RoundData) -> dict:
    """Train for the config's steps; returns the held-out metrics, the final loss and the timing.
    RoundStopped when cancelled or when the loss diverged."""
    losses: list[float] = []
    started = time.perf_counter()

    def on_step(step_metrics: dict) -> None:
        losses.append(step_metrics["loss"])
        rounds.add_step(claim, step_metrics)  # RoundLost here stops training: the round is not ours

    trainer = model.trainer
    try:
        metrics = trainer.fit(data.train, data.held_out, on_step=on_step,
                              should_stop=lambda: rounds.cancel_requested(claim.round_id))  # fmt: skip
    except FloatingPointError as exc:
        raise RoundStopped(RoundState.failed, f"training diverged: {exc}") from exc
    steps = claim.config.steps
    if trainer.step_count < steps:
        raise RoundStopped(RoundState.cancelled, f"cancelled at step {trainer.step_count} of {steps}")
    return metrics | {"train_seconds": time.perf_counter() - started, "final_loss": statistics.fmean(losses[-10:]),
                      "steps": trainer.step_count}  # fmt: skip
