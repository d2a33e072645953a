"""One training round, start to end: snapshot the votes, train, write the checkpoint, gate, promote.

Every way out leaves the round in a final state with a reason. Nothing here touches the served
checkpoint except the last step, and only for a checkpoint that passed the gate: a round that fails
anywhere before that leaves the deployment table as it was.
"""

from __future__ import annotations

import logging
import secrets
import statistics
import time
from datetime import UTC, datetime

from sqlalchemy import func, select

from app.db.models import Checkpoint, RoundState, TrainingRound, Vote
from app.db.session import session_scope
from app.repo.checkpoints import BASE_CHECKPOINT_ID, active_checkpoint_id, promote
from app.repo.preferences import collect_preferences
from app.repo.rounds import FINISHED, add_step, finish_round
from app.schemas.rounds import DPOConfig, model_family
from app.settings import Settings, get_settings
from worker.rounds.gate import GateThresholds, apply_gate
from worker.serving import CheckpointRef
from worker.tasks.common import checkpoint_ref

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 2  # a round whose worker died is retried once, then fails


class RoundStopped(Exception):
    """The round ends here with a reason (not a crash): no pairs, cancelled, refused settings."""

    def __init__(self, state: RoundState, reason: str):
        super().__init__(reason)
        self.state, self.reason = state, reason


def _claim(round_id: int, settings: Settings) -> tuple[DPOConfig, int, CheckpointRef, CheckpointRef] | None:
    """Mark the round running and fix what it trains on; None if there is nothing to do."""
    with session_scope() as session:
        row = session.get(TrainingRound, round_id)
        if row is None or row.state in FINISHED:
            return None  # gone, cancelled while queued, or a redelivery of a finished round
        if row.cancel_requested:
            finish_round(session, row, RoundState.cancelled, "cancelled before it started")
            return None
        if row.attempts >= MAX_ATTEMPTS:
            finish_round(session, row, RoundState.failed, f"gave up after {row.attempts} attempts (workers lost)")
            return None
        now = datetime.now(UTC)
        row.state, row.attempts, row.started_at, row.heartbeat_at = RoundState.running, row.attempts + 1, now, now
        if row.snapshot_vote_id is None:
            row.snapshot_vote_id = session.scalar(select(func.max(Vote.id))) or 0
        active = active_checkpoint_id(session)
        if row.start_checkpoint_id is None:
            row.start_checkpoint_id = active if settings.round_start_from == "active" else BASE_CHECKPOINT_ID
        if row.reference_checkpoint_id is None:
            row.reference_checkpoint_id = active if settings.round_reference == "active" else BASE_CHECKPOINT_ID
        try:
            start = checkpoint_ref(session, row.start_checkpoint_id)
            reference = checkpoint_ref(session, row.reference_checkpoint_id)
            config = DPOConfig(**row.config)
        except ValueError as exc:
            finish_round(session, row, RoundState.failed, str(exc))
            return None
        return config, row.snapshot_vote_id, start, reference


def run_round(round_id: int, settings: Settings | None = None) -> None:
    settings = settings or get_settings()
    claimed = _claim(round_id, settings)
    if claimed is None:
        return
    config, snapshot, start, reference = claimed
    try:
        checkpoint_id = _train(round_id, settings, config, snapshot, start, reference)
    except RoundStopped as stop:
        with session_scope() as session:
            finish_round(session, session.get(TrainingRound, round_id), stop.state, stop.reason)
        return
    except Exception as exc:
        log.exception("round %s failed", round_id)
        with session_scope() as session:
            finish_round(session, session.get(TrainingRound, round_id), RoundState.failed,
                         f"{type(exc).__name__}: {exc}")  # fmt: skip
        return
    with session_scope() as session:
        row = session.get(TrainingRound, round_id)
        row.checkpoint_id = checkpoint_id
        finish_round(session, row, RoundState.succeeded)


def _record(round_id: int, **fields) -> None:
    with session_scope() as session:
        row = session.get(TrainingRound, round_id)
        for key, value in fields.items():
            setattr(row, key, value)


def _train(round_id, settings, config, snapshot, start, reference) -> int:
    import torch

    from worker.dpo.trainer import RefusedConfig
    from worker.generation.generator import Generator
    from worker.generation.loading import load_pipeline
    from worker.rounds.data import load_pairs
    from worker.rounds.judge import judge_score
    from worker.rounds.model import build_trainer

    with session_scope() as session:
        preferences = collect_preferences(session, up_to_vote_id=snapshot)
    data = load_pairs(preferences, settings.latents_dir, config.held_out_share)
    counts = dict(preferences.counts) | {"train_pairs": len(data.train), "held_out_pairs": len(data.held_out),
                                         "missing_latents": data.missing_latents}  # fmt: skip
    _record(round_id, counts=counts)
    if not data.train:
        votes = preferences.counts.get("votes", 0)
        reason = f"nothing to train on: {votes} votes gave no training pair (decisive left/right votes make pairs)"
        raise RoundStopped(RoundState.failed, reason)

    torch.set_num_threads(settings.torch_threads)
    torch.manual_seed(config.seed)
    device = torch.device(settings.device) if settings.device else None
    pipe, family = load_pipeline(settings.base_model, device)
    pipe.set_progress_bar_config(disable=True)
    try:
        trainer = build_trainer(pipe, family, config, start, reference)
    except RefusedConfig as exc:
        raise RoundStopped(RoundState.failed, f"refused: {exc}") from exc
    judged = model_family(settings.base_model) == "scenes" and settings.gate_eval_images > 0
    metrics: dict = {}
    if judged:
        pipe.unet.eval()
        metrics["judge_score_parent"] = _parent_judge_score(start, settings, lambda: judge_score(
            Generator.from_pipeline(pipe, family), settings.gate_eval_images))  # fmt: skip
        base_score = _cached_judge_score(BASE_CHECKPOINT_ID, settings)
        if base_score is not None:
            metrics["judge_score_base"] = base_score

    losses: list[float] = []
    started = time.perf_counter()

    def on_step(step_metrics: dict) -> None:
        losses.append(step_metrics["loss"])
        with session_scope() as session:
            add_step(session, round_id, step_metrics)

    def should_stop() -> bool:
        with session_scope() as session:
            return bool(session.scalar(select(TrainingRound.cancel_requested).where(TrainingRound.id == round_id)))

    try:
        held_out_metrics = trainer.fit(data.train, data.held_out, on_step=on_step, should_stop=should_stop)
    except FloatingPointError as exc:
        raise RoundStopped(RoundState.failed, f"training diverged: {exc}") from exc
    if trainer.step_count < config.steps:
        raise RoundStopped(RoundState.cancelled, f"cancelled at step {trainer.step_count} of {config.steps}")
    metrics |= held_out_metrics
    metrics["train_seconds"] = time.perf_counter() - started
    metrics["final_loss"] = statistics.fmean(losses[-10:])
    metrics["steps"] = trainer.step_count
    if judged:
        pipe.unet.eval()
        metrics["judge_score"] = judge_score(Generator.from_pipeline(pipe, family), settings.gate_eval_images)
        metrics["judge_images"] = settings.gate_eval_images
    return _publish(round_id, settings, trainer, config, metrics, counts, start, reference, family)


def _cached_judge_score(checkpoint_id: int, settings: Settings) -> float | None:
    """A checkpoint's judge score from its registry row, when it was measured on the same set."""
    with session_scope() as session:
        row = session.get(Checkpoint, checkpoint_id)
        cached = (row.metrics or {}) if row else {}
        if cached.get("judge_images") == settings.gate_eval_images:
            return cached.get("judge_score")
    return None


def _parent_judge_score(start: CheckpointRef, settings: Settings, compute) -> float:
    """The start checkpoint's judge score: from its registry row when measured on the same set."""
    cached = _cached_judge_score(start.id, settings)
    if cached is not None:
        return cached
    score = compute()
    with session_scope() as session:
        row = session.get(Checkpoint, start.id)
        row.metrics = dict(row.metrics or {}) | {"judge_score": score, "judge_images": settings.gate_eval_images}
    return score


def _publish(round_id, settings, trainer, config, metrics, counts, start, reference, family) -> int:
    """Write the checkpoint, register it, gate it, and promote it if it passed and auto-promote is on."""
    from worker.rounds.checkpoint_io import write_atomically

    thresholds = GateThresholds(settings.gate_min_accuracy, settings.gate_max_winner_drift,
                                settings.gate_max_judge_drop)  # fmt: skip
    gate = apply_gate(metrics, thresholds)
    metrics["gate"] = {"passed": gate.passed, "checks": gate.checks, "reasons": gate.reasons}
    name = f"round-{round_id:04d}-{secrets.token_hex(3)}"
    card = {"name": name, "round_id": round_id, "parent_id": start.id, "reference_id": reference.id,
            "base_model": settings.base_model, "family": family, "method": config.method,
            "config": config.model_dump(), "metrics": metrics, "counts": counts,
            "created_at": datetime.now(UTC).isoformat()}  # fmt: skip
    kinds = {}
    path = write_atomically(settings.checkpoints_dir / name, lambda d: kinds.setdefault("kind", trainer.save(d)), card)
    with session_scope() as session:
        checkpoint = Checkpoint(name=name, kind=kinds["kind"], path=str(path), parent_id=start.id, round_id=round_id,
                                status="ready" if gate.passed else "rejected",
                                status_reason=gate.summary(), metrics=metrics)  # fmt: skip
        session.add(checkpoint)
        session.flush()
        row = session.get(TrainingRound, round_id)
        row.metrics = metrics
        if gate.passed and settings.auto_promote:
            promote(session, checkpoint.id, by="gate", reason=f"round {round_id} passed the gate")
        return checkpoint.id
