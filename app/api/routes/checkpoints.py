"""Which checkpoints exist, which one serves, and promoting one (which is also how to roll back)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict

from fastapi import APIRouter, HTTPException, Query, status

from app.api.deps import Admin, AppSettings, CurrentLabeler, Id
from app.api.media import media_url
from core.db.models import Candidacy, Checkpoint, Evaluation
from core.queue import QueueUnavailable
from core.repo.evaluations import EvaluationTally
from core.schemas.api import (
    ArenaOut,
    ArenaStandingOut,
    CandidateOut,
    CheckpointOut,
    DeploymentOut,
    EvaluationOut,
    GridColumnOut,
    GridOut,
    GridRowOut,
    MatchIn,
    MatchOut,
    PromoteIn,
)
from core.schemas.text import MAX_DB_INT
from core.services import arena as arena_service
from core.services import checkpoints, evaluations, grid
from core.services.checkpoints import Registry
from core.settings import Settings
from core.states import CandidateState, Role

router = APIRouter(tags=["checkpoints"])


def evaluation_out(e: Evaluation, tally: EvaluationTally) -> EvaluationOut:
    return EvaluationOut(
        id=e.id, checkpoint_id=e.checkpoint_id, baseline_id=e.baseline_id, kind=e.kind, pairs=e.pairs, wins=tally.wins,
        losses=tally.losses, ties=tally.ties, both_bad=tally.both_bad, skips=tally.skips, win_rate=tally.rate,
        interval=tally.interval, judge=e.judge_verdict, created_at=e.created_at,
    )  # fmt: skip


def candidate_out(candidacy: Candidacy, for_admin: bool) -> CandidateOut:
    """While it is judged, labelers get the state only: live counts would tell which side is winning."""
    out = CandidateOut.model_validate(candidacy, from_attributes=True)
    if candidacy.state == CandidateState.judging and not for_admin:
        out = out.model_copy(update=dict.fromkeys(("wins", "losses", "ties", "votes_needed_estimate", "bounds")))
    return out


def checkpoint_out(c: Checkpoint, registry: Registry, for_admin: bool) -> CheckpointOut:
    """Labelers see neither the human verdicts (which would unblind eval pairs) nor server paths."""
    human_eval = evaluation_out(*registry.evaluations[c.id]) if c.id in registry.evaluations else None
    candidacy = registry.candidacies.get(c.id)
    return CheckpointOut(
        id=c.id, name=c.name, kind=c.kind, path=c.path if for_admin else None, parent_id=c.parent_id,
        round_id=c.round_id, status=c.status, status_reason=c.status_reason, metrics=c.metrics or {},
        created_at=c.created_at, active=c.id == registry.active_id, human_eval=human_eval,
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


@router.get("/admin/evaluations", response_model=list[EvaluationOut], tags=["admin"])
def list_evaluations(
    _: Admin, settings: AppSettings, checkpoint_id: int | None = Query(None, ge=1, le=MAX_DB_INT)
) -> list[EvaluationOut]:
    """Every human evaluation of a promotion, newest first: votes on same-seed pairs of the
    checkpoint and the one it replaced, with the checkpoint's win rate (a tie is half a win). Only
    votes of people in good standing count: not AI labelers', nor those of labelers out of it now."""
    return [evaluation_out(e, tally) for e, tally in evaluations.evaluations(checkpoint_id, settings)]


@router.post("/admin/checkpoints/{checkpoint_id}/promote", response_model=DeploymentOut, tags=["admin"])
def promote(checkpoint_id: Id, admin: Admin, body: PromoteIn | None = None) -> DeploymentOut:
    """Serve this checkpoint from now on; workers swap within about a second. Promoting an older
    checkpoint is a rollback. A rejected (gate-failed, or by the labelers) checkpoint may be promoted by
    hand; a broken one not. The candidate under judgement ends: promoted if it is this one, else
    undecided (what it was judged against no longer serves)."""
    try:
        reason = (body.reason if body else None) or "admin"
        deployment = checkpoints.promote(checkpoint_id, by=admin.name, reason=reason)
    except checkpoints.PromotionRefused as exc:
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


@router.get("/admin/arena", response_model=ArenaOut, tags=["admin"])
def arena(_: Admin, settings: AppSettings) -> ArenaOut:
    """Every checkpoint with human evaluation votes on one Bradley-Terry scale (log-odds of winning,
    the base at 0), with bootstrap 95% intervals; a tie counts half a win for each side. Only votes of
    people in good standing count: not AI labelers', nor those of labelers out of it now."""
    found = arena_service.arena(settings=settings)
    return ArenaOut(
        standings=[ArenaStandingOut(checkpoint_id=s.checkpoint_id, name=found.names.get(s.checkpoint_id, "?"),
                                    strength=s.strength, interval=s.interval, votes=s.votes, wins=s.wins,
                                    losses=s.losses, ties=s.ties) for s in found.ranking.standings],
        votes=found.ranking.votes, bootstrap=found.ranking.bootstrap,
    )  # fmt: skip


def grid_out(found: grid.Grid, queued: bool) -> GridOut:
    return GridOut(
        columns=[GridColumnOut(**asdict(c)) for c in found.columns],
        rows=[GridRowOut(prompt=r.prompt, seed=r.seed, images=[media_url(i) if i else None for i in r.images])
              for r in found.rows],
        made=found.made, total=found.total, queued=queued,
    )  # fmt: skip


@router.get("/admin/checkpoints/{checkpoint_id}/grid", response_model=GridOut, tags=["admin"])
def image_grid(checkpoint_id: Id, _: Admin, settings: AppSettings) -> GridOut:
    """The same-seed grid: each evaluation prompt × the grid's own fixed seeds, as rendered by the
    base, the parent and this checkpoint (null where one is missing)."""
    try:
        return grid_out(grid.grid(settings, checkpoint_id), queued=False)
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc


@router.post("/admin/checkpoints/{checkpoint_id}/grid", response_model=GridOut, tags=["admin"],
             status_code=status.HTTP_202_ACCEPTED)  # fmt: skip
def render_image_grid(checkpoint_id: Id, _: Admin, settings: AppSettings) -> GridOut:
    """Queue the grid's missing images on the generate worker (a chunk at a time); poll GET for them."""
    try:
        found = grid.request_grid(settings, checkpoint_id)
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except QueueUnavailable as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the task queue is unreachable; try again") from exc
    return grid_out(found, queued=bool(found.missing_for()))


@router.post("/admin/arena/matches", response_model=MatchOut, status_code=status.HTTP_201_CREATED, tags=["admin"])
def queue_match(body: MatchIn, admin: Admin) -> MatchOut:
    """Compare any two checkpoints: both render the evaluation prompts afresh (the same seeds on
    both sides, the match's own) on the generate worker between pool batches, then the pairs are
    served to labelers blind, before train pairs, whatever serves; their votes join the arena. 409
    when the two were already compared."""
    try:
        match = arena_service.request_match(body.checkpoint_a_id, body.checkpoint_b_id, by=admin.name)
    except arena_service.MatchRefused as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    return MatchOut.model_validate(match, from_attributes=True)


@router.get("/admin/arena/matches", response_model=list[MatchOut], tags=["admin"])
def list_matches(_: Admin, limit: int = Query(100, ge=1, le=1000)) -> list[MatchOut]:
    """Arena matches, newest first, with their state."""
    return [MatchOut.model_validate(m, from_attributes=True) for m in arena_service.matches(limit)]


@router.get("/admin/deployments", response_model=list[DeploymentOut], tags=["admin"])
def deployment_history(_: Admin, limit: int = Query(100, ge=1, le=1000)) -> list[DeploymentOut]:
    """Promotions and rollbacks, newest first."""
    return [DeploymentOut.model_validate(d, from_attributes=True) for d in checkpoints.deployments(limit)]
