"""Which checkpoints exist, which one serves, and promoting one (which is also how to roll back)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from fastapi import APIRouter, HTTPException, status

from app.api.deps import Admin, AppSettings, CurrentLabeler, Id
from app.api.schemas.checkpoints import CheckpointOut, PromoteIn
from app.api.schemas.deployments import DeploymentOut
from app.api.schemas.evaluations import EvaluationOut
from core.db.models import Candidacy, Checkpoint
from core.services import checkpoints
from core.services.campaigns import CampaignRefused
from core.services.candidates import Candidate
from core.services.checkpoints import Registry
from core.settings import Settings
from core.states import CandidateState, Role

router = APIRouter(tags=["checkpoints"])


def candidate_out(candidacy: Candidacy, for_admin: bool) -> Candidate:
    """While it is judged, labelers get the state only: live counts would tell which side is winning."""
    candidate = Candidate.of(candidacy)
    if candidacy.state == CandidateState.judging and not for_admin:
        candidate = replace(candidate, wins=None, losses=None, ties=None, votes_needed_estimate=None, bounds=None)
    return candidate


def checkpoint_out(c: Checkpoint, registry: Registry, for_admin: bool) -> CheckpointOut:
    """Labelers see neither the human verdicts (which would unblind eval pairs) nor server paths."""
    human_eval = EvaluationOut.of(*registry.evaluations[c.id]) if c.id in registry.evaluations else None
    candidacy = registry.candidacies.get(c.id)
    return CheckpointOut(
        id=c.id, name=c.name, kind=c.kind, path=c.path if for_admin else None, parent_id=c.parent_id,
        campaign_id=c.campaign_id,
        round_id=c.round_id, status=c.status, status_reason=c.status_reason, metrics=c.metrics or {},
        created_at=c.created_at, active=c.id == registry.active_id, human_eval=human_eval,
        serves=registry.serves.get(c.id, []) if for_admin else [],
        candidate=candidate_out(candidacy, for_admin) if candidacy else None,
    )  # fmt: skip


@router.get("/checkpoints", response_model=list[CheckpointOut])
def list_checkpoints(labeler: CurrentLabeler, settings: AppSettings) -> list[CheckpointOut]:
    """Every checkpoint with its lineage (parent, round), metrics, gate verdict and whether it serves;
    for admins also the labelers' win rate against the checkpoint it replaced (`human_eval`: live
    counts would tell a labeler which side of an eval pair was the new checkpoint; only votes of people
    in good standing count)."""
    admin = labeler.role == Role.admin
    registry = checkpoints.registry(with_evaluations=admin, settings=settings)
    return [checkpoint_out(c, registry, admin) for c in registry.checkpoints]


@router.get("/checkpoints/active", response_model=CheckpointOut)
def active(labeler: CurrentLabeler, settings: AppSettings) -> CheckpointOut:
    admin = labeler.role == Role.admin
    registry = checkpoints.active_registry(with_evaluations=admin, settings=settings)
    return checkpoint_out(registry.checkpoints[0], registry, admin)


@router.get("/checkpoints/{checkpoint_id}", response_model=CheckpointOut)
def one(checkpoint_id: Id, labeler: CurrentLabeler, settings: AppSettings) -> CheckpointOut:
    """One checkpoint, as in the list (after /checkpoints/active, which this path would otherwise take)."""
    admin = labeler.role == Role.admin
    registry = checkpoints.registry(with_evaluations=admin, checkpoint_id=checkpoint_id, settings=settings)
    if not registry.checkpoints:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"checkpoint {checkpoint_id} does not exist")
    return checkpoint_out(registry.checkpoints[0], registry, admin)


@router.post("/admin/checkpoints/{checkpoint_id}/promote", response_model=DeploymentOut, tags=["admin"])
def promote(checkpoint_id: Id, admin: Admin, body: PromoteIn | None = None) -> DeploymentOut:
    """Serve this checkpoint from now on; workers swap within about a second. Promoting an older
    checkpoint is a rollback. A rejected (gate-failed, or by the labelers) checkpoint may be promoted by
    hand; a broken one not. The candidate under judgement ends: promoted if it is this one, else
    undecided (what it was judged against no longer serves)."""
    try:
        reason = (body.reason if body else None) or "admin"
        deployment = checkpoints.promote(checkpoint_id, by=admin.name, reason=reason,
                                         campaign=body.campaign if body else None)  # fmt: skip
    except (checkpoints.PromotionRefused, CampaignRefused) as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    return DeploymentOut.model_validate(deployment, from_attributes=True)


def changed_by_admin(
    checkpoint_id: int, settings: Settings, change: Callable[[], object], refused: type[Exception]
) -> CheckpointOut:
    """Apply an admin's change to one checkpoint and answer its admin view: 409 when `refused`, 404 when absent."""
    try:
        change()
    except refused as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    registry = checkpoints.registry(with_evaluations=True, checkpoint_id=checkpoint_id, settings=settings)
    return checkpoint_out(registry.checkpoints[0], registry, for_admin=True)


@router.post("/admin/checkpoints/{checkpoint_id}/reject", response_model=CheckpointOut, tags=["admin"])
def reject(checkpoint_id: Id, admin: Admin, settings: AppSettings, body: PromoteIn | None = None) -> CheckpointOut:
    """Reject the candidate the labelers are judging, before their verdict: it never serves unless an
    admin promotes it; its evaluation pairs leave the pool. 409 for a checkpoint that is not the
    candidate under judgement."""
    reason = (body.reason if body else None) or "admin"
    return changed_by_admin(checkpoint_id, settings, lambda: checkpoints.reject(checkpoint_id, admin.name, reason),
                            checkpoints.NotJudged)  # fmt: skip


@router.post("/admin/checkpoints/{checkpoint_id}/clear-broken", response_model=CheckpointOut, tags=["admin"])
def clear_broken(checkpoint_id: Id, admin: Admin, settings: AppSettings) -> CheckpointOut:
    """Take the broken mark off a checkpoint whose load failure was passing (out of memory, a file
    system hiccup); it serves again once promoted."""
    return changed_by_admin(checkpoint_id, settings, lambda: checkpoints.clear_broken(checkpoint_id, by=admin.name),
                            checkpoints.PromotionRefused)  # fmt: skip
