"""The end of a round: write the checkpoint atomically, gate it, and register it (a candidate for the
labelers' verdict if it passed, or promoted in gate mode) in the transaction that ends the round."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from core.services import rounds
from core.services.checkpoints import NewCheckpoint
from core.services.rounds import RoundClaim
from core.settings import Settings
from worker.checkpoint_io import publish_folder
from worker.rounds.gate import GateThresholds, apply_gate
from worker.rounds.model import RoundModel


def thresholds_of(settings: Settings) -> GateThresholds:
    return GateThresholds(settings.gate_min_accuracy, settings.gate_max_winner_drift, settings.gate_max_judge_drop,
                          settings.gate_confidence, settings.gate_min_reward_win_rate)  # fmt: skip


def publish(claim: RoundClaim, model: RoundModel, metrics: dict, counts: dict, settings: Settings) -> int:
    """Returns the registered checkpoint's id. Nothing before this touches the served checkpoint; one
    that passed the gate becomes a candidate (or, in gate mode with auto-promotion on, serves)."""
    gate = apply_gate(metrics, thresholds_of(settings))
    metrics = metrics | {"gate": {"passed": gate.passed, "checks": gate.checks, "reasons": gate.reasons,
                                  "rules": gate.rules}}  # fmt: skip
    name = f"round-{claim.round_id:04d}-{secrets.token_hex(3)}"
    card = {"name": name, "round_id": claim.round_id, "campaign_id": claim.campaign_id, "parent_id": claim.start.id,
            "reference_id": claim.reference.id,
            "base_model": settings.base_model, "family": model.family.value, "method": claim.config.method,
            "config": claim.config.model_dump(), "metrics": metrics, "counts": counts,
            "created_at": datetime.now(UTC).isoformat()}  # fmt: skip
    written = {}
    key = publish_folder(settings, f"checkpoints/{name}", lambda d: written.setdefault("kind", model.trainer.save(d)),
                         card)  # fmt: skip
    new = NewCheckpoint(round_id=claim.round_id, name=name, kind=written["kind"], path=key,
                        parent_id=claim.start.id, passed_gate=gate.passed, gate_summary=gate.summary(),
                        metrics=metrics)  # fmt: skip
    return rounds.publish(claim, new, settings)
