"""Which checkpoints exist, which one serves, and promoting one (which is also how to roll back)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query, status

from app.api.deps import DB, Admin, CurrentLabeler, Id
from app.db.models import Checkpoint, Evaluation, Labeler, Role
from app.repo.checkpoints import PromotionRefused, active_checkpoint_id, deployments, list_checkpoints, promote
from app.repo.evaluations import EvaluationTally, evaluation_tallies, latest_evaluations, list_evaluations
from app.schemas.api import CheckpointOut, DeploymentOut, EvaluationOut, PromoteIn
from app.schemas.text import MAX_DB_INT

router = APIRouter(tags=["checkpoints"])


def to_out(c: Checkpoint, active_id: int, human_eval: EvaluationOut | None = None) -> CheckpointOut:
    return CheckpointOut(
        id=c.id, name=c.name, kind=c.kind, path=c.path, parent_id=c.parent_id, round_id=c.round_id, status=c.status,
        status_reason=c.status_reason, metrics=c.metrics or {}, created_at=c.created_at, active=c.id == active_id,
        human_eval=human_eval,
    )  # fmt: skip


def evaluation_out(e: Evaluation, tally: EvaluationTally | None) -> EvaluationOut:
    tally = tally or EvaluationTally()
    return EvaluationOut(
        id=e.id, checkpoint_id=e.checkpoint_id, baseline_id=e.baseline_id, pairs=e.pairs, wins=tally.wins,
        losses=tally.losses, ties=tally.ties, both_bad=tally.both_bad, skips=tally.skips, win_rate=tally.rate,
        interval=tally.interval, created_at=e.created_at,
    )  # fmt: skip


def evaluations_for(labeler: Labeler, db, checkpoint_id: int | None = None) -> dict[int, EvaluationOut]:
    """Admins see each checkpoint's labelers' verdict; labelers do not (it would unblind eval pairs)."""
    if labeler.role != Role.admin:
        return {}
    return {c: evaluation_out(e, tally) for c, (e, tally) in latest_evaluations(db, checkpoint_id).items()}


@router.get("/checkpoints", response_model=list[CheckpointOut])
def checkpoints(labeler: CurrentLabeler, db: DB) -> list[CheckpointOut]:
    """Every checkpoint with its lineage (parent, round), metrics, gate verdict and whether it serves;
    for admins also the labelers' win rate against the checkpoint it replaced (`human_eval`)."""
    active = active_checkpoint_id(db)
    evaluations = evaluations_for(labeler, db)
    return [to_out(c, active, evaluations.get(c.id)) for c in list_checkpoints(db)]


@router.get("/checkpoints/active", response_model=CheckpointOut)
def active(labeler: CurrentLabeler, db: DB) -> CheckpointOut:
    active_id = active_checkpoint_id(db)
    return to_out(db.get(Checkpoint, active_id), active_id, evaluations_for(labeler, db, active_id).get(active_id))


@router.get("/admin/evaluations", response_model=list[EvaluationOut], tags=["admin"])
def evaluations(_: Admin, db: DB, checkpoint_id: int | None = Query(None, ge=1, le=MAX_DB_INT)) -> list[EvaluationOut]:
    """Every human evaluation of a promotion, newest first: votes on same-seed pairs of the
    checkpoint and the one it replaced, with the checkpoint's win rate (a tie is half a win)."""
    rows = list_evaluations(db, checkpoint_id)
    tallies = evaluation_tallies(db, [e.id for e in rows])
    return [evaluation_out(e, tallies.get(e.id)) for e in rows]


@router.post("/admin/checkpoints/{checkpoint_id}/promote", response_model=DeploymentOut, tags=["admin"])
def promote_checkpoint(checkpoint_id: Id, admin: Admin, db: DB, body: PromoteIn | None = None) -> DeploymentOut:
    """Serve this checkpoint from now on; workers swap within about a second. Promoting an older
    checkpoint is a rollback. A rejected (gate-failed) checkpoint may be promoted by hand; a broken one not."""
    try:
        deployment = promote(db, checkpoint_id, by=admin.name, reason=(body.reason if body else None) or "admin")
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except PromotionRefused as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    db.commit()
    return DeploymentOut.model_validate(deployment, from_attributes=True)


@router.get("/admin/deployments", response_model=list[DeploymentOut], tags=["admin"])
def deployment_history(_: Admin, db: DB, limit: int = Query(100, ge=1, le=1000)) -> list[DeploymentOut]:
    """Promotions and rollbacks, newest first."""
    return [DeploymentOut.model_validate(d, from_attributes=True) for d in deployments(db, limit)]
