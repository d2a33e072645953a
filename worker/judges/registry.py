"""Judges by name: `scenes` (the embedded model's scorer), or `clip:DIR` and `pickscore:DIR` for
CLIP weights on this machine (nothing is downloaded; a missing file is named in the error)."""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path

import torch

from core.settings import Settings
from worker.judges.base import Embedder, Judge, JudgeUnavailable

log = logging.getLogger(__name__)

KNOWN = ("scenes", "clip", "pickscore")
NOT_YET = {"hpsv2": "HPSv2", "imagereward": "ImageReward"}  # their packages pin old timm/open_clip stacks


def load_judge(spec: str, device: torch.device | None = None) -> Judge:
    kind, _, where = spec.partition(":")
    if kind == "scenes":
        from worker.judges.scenes import ScenesJudge

        return ScenesJudge()
    if kind in NOT_YET:
        raise JudgeUnavailable(f"{NOT_YET[kind]} is not supported yet; use pickscore:DIR (a CLIP-H preference model)")
    if kind not in KNOWN:
        raise JudgeUnavailable(f"unknown judge {kind!r}; known: {', '.join(KNOWN)} (e.g. pickscore:/models/PickScore)")
    if not where:
        raise JudgeUnavailable(f"judge {kind} needs its weights' directory: {kind}:/path/to/weights")
    if not Path(where).is_dir():
        raise JudgeUnavailable(f"judge {kind}: no weights directory at {where}")
    from worker.judges.clip import CLIPJudge

    return CLIPJudge(kind, where, device)


@cache
def cached_judge(spec: str) -> Judge:
    """One instance per spec and worker process: a judge's weights load once."""
    return load_judge(spec)


def configured_judge(judge_setting: str, base_model: str) -> str | None:
    """The judge an install uses (DPOLOOP_GATE_JUDGE), else the scene scorer for the embedded model."""
    from core.family import UnsupportedModel, model_family

    if judge_setting:
        return judge_setting
    try:
        return "scenes" if model_family(base_model).has_judge else None
    except UnsupportedModel:
        return None


def embedding_judge(settings: Settings) -> Embedder | None:
    """The install's judge when it embeds images (DPOLOOP_PAIRING_DISTANCE=judge and a CLIP judge), else None."""
    if settings.pairing_distance != "judge":
        return None
    spec = configured_judge(settings.gate_judge, settings.base_model)
    return _embedder(spec) if spec else None


@cache
def _embedder(spec: str) -> Embedder | None:
    """The judge if it embeds; a judge that cannot load is reported once per worker process and then left
    alone (the pool measures on latents), rather than loaded again, gigabytes at a time, every batch."""
    try:
        judge = cached_judge(spec)
    except Exception as exc:
        log.warning("judge %s could not load (%s); pairs are chosen by latent distance until the worker restarts",
                    spec, exc)  # fmt: skip
        return None
    return judge if hasattr(judge, "embed") else None
