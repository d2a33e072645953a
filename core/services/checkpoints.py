"""Checkpoints: the registry, what serves, promotion and rollback, broken ones, judge scores."""

from __future__ import annotations

from dataclasses import dataclass

from core.db.models import Candidacy, Checkpoint, Deployment, Evaluation
from core.db.session import session_scope
from core.refs import CheckpointRef
from core.repo import candidacies
from core.repo import checkpoints as repo
from core.repo.checkpoints import NewCheckpoint, PromotionRefused, UnusableCheckpoint
from core.repo.evaluations import EvaluationTally, latest_evaluations
from core.services import campaigns, candidates
from core.services.candidates import NotJudged
from core.services.evaluations import uncounted_voters
from core.settings import Settings, get_settings

__all__ = ["NewCheckpoint", "NotJudged", "PromotionRefused", "UnusableCheckpoint"]


@dataclass
class Registry:
    """Every checkpoint, which one serves, each one's candidacy (if it was a candidate) and (where asked
    for) its newest human evaluation."""

    checkpoints: list[Checkpoint]
    active_id: int  # what serves the default campaign
    evaluations: dict[int, tuple[Evaluation, EvaluationTally]]
    candidacies: dict[int, Candidacy]
    serves: dict[int, list[str]]  # checkpoint id → the active campaigns it serves now


def registry(with_evaluations: bool, checkpoint_id: int | None = None, settings: Settings | None = None) -> Registry:
    """The registry, or one checkpoint of it; evaluations (votes of people in good standing) only where
    the caller may see them."""
    with session_scope() as session:
        active = repo.active_checkpoint_id(session)
        if checkpoint_id is None:
            rows = repo.list_checkpoints(session)
        else:
            row = session.get(Checkpoint, checkpoint_id)
            rows = [row] if row is not None else []
        evaluations = {}
        if with_evaluations:
            uncounted = uncounted_voters(session, settings or get_settings())
            evaluations = latest_evaluations(session, checkpoint_id, uncounted)
        serves: dict[int, list[str]] = {}
        for name, serving in campaigns.serving_checkpoints(session).items():
            serves.setdefault(serving, []).append(name)
        return Registry(rows, active, evaluations, candidacies.of_checkpoints(session, [r.id for r in rows]), serves)


def active_registry(with_evaluations: bool, settings: Settings | None = None) -> Registry:
    """The registry narrowed to the checkpoint that serves now."""
    with session_scope() as session:
        active = repo.active_checkpoint_id(session)
    return registry(with_evaluations, active, settings)


def active_ref() -> CheckpointRef:
    """The checkpoint that serves now; UnusableCheckpoint while a broken one waits for its rollback."""
    with session_scope() as session:
        return repo.checkpoint_ref(session, repo.active_checkpoint_id(session))


def promote(checkpoint_id: int, by: str, reason: str | None = None, campaign: str | None = None) -> Deployment:
    """Serve this checkpoint to its campaign (an older one: a rollback; the base to `campaign`). LookupError,
    CampaignRefused for an archived campaign, or PromotionRefused for a broken one, one whose files are gone
    or one of another campaign's lineage; a rejected one may be promoted by hand. In default, the candidate
    under judgement ends: promoted if it is this one, undecided otherwise (what serves changed)."""
    return candidates.promote_by_admin(checkpoint_id, by, reason, campaign)


def reject(checkpoint_id: int, by: str, reason: str | None = None) -> Candidacy:
    """An admin rejects the candidate under judgement. LookupError, or NotJudged for any other checkpoint."""
    return candidates.reject_by_admin(checkpoint_id, by, reason)


def clear_broken(checkpoint_id: int, by: str) -> Checkpoint:
    """An admin takes the broken mark off a checkpoint whose load failure was passing; promote it to
    serve it again. LookupError, or PromotionRefused when its files are gone."""
    with session_scope() as session:
        return repo.clear_broken(session, checkpoint_id, by)


def deployments(limit: int = 100) -> list[Deployment]:
    with session_scope() as session:
        return repo.deployments(session, limit)


def mark_broken(checkpoint_id: int, reason: str) -> None:
    """A checkpoint that failed to load never serves again; the deployment rolls back if it served."""
    with session_scope() as session:
        repo.mark_broken(session, checkpoint_id, reason)


def cached_judge_score(checkpoint_id: int, images: int, judge: str = "scenes") -> float | None:
    """A checkpoint's judge score from its registry row, when the same judge measured it on the same set:
    one recorded before a round (`judge_scores`, one per judge and set: the base starts every campaign's
    lineage), or its round's own."""
    with session_scope() as session:
        row = session.get(Checkpoint, checkpoint_id)
        metrics = (row.metrics or {}) if row else {}
    recorded = metrics.get("judge_scores", {}).get(judge)
    if recorded and recorded.get("images") == images:
        return recorded["score"]
    same = metrics.get("judge_images") == images and metrics.get("judge", "scenes") == judge
    return metrics.get("judge_score") if same else None


def record_judge_score(checkpoint_id: int, score: float, images: int, judge: str = "scenes") -> None:
    """Keep a checkpoint's judge score on a judge's set beside those of other judges and sets."""
    with session_scope() as session:
        row = session.get(Checkpoint, checkpoint_id)
        metrics = dict(row.metrics or {})
        metrics["judge_scores"] = dict(metrics.get("judge_scores", {})) | {judge: {"score": score, "images": images}}
        row.metrics = metrics
