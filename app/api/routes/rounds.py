"""Admin: training rounds — start one, list them, follow one's curves, cancel it."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query, status

from app.api.deps import Admin, AppSettings, Id
from app.api.errors import unprocessable
from app.api.schemas.campaigns import CampaignName
from app.api.schemas.rounds import RoundIn, RoundOut, RoundStepOut
from core.db.models import RoundStep, TrainingRound
from core.queue import QueueUnavailable
from core.services import campaigns, rounds
from core.states import RoundTrigger

router = APIRouter(prefix="/admin/rounds", tags=["rounds"])


def round_out(row: TrainingRound, steps: list[RoundStep] | None = None) -> RoundOut:
    out = RoundOut.model_validate(row, from_attributes=True)
    out.state = row.state.value
    if steps is not None:
        out.steps = [RoundStepOut(step=s.step, metrics=s.metrics) for s in steps]
    return out


@router.post("", response_model=RoundOut, status_code=status.HTTP_202_ACCEPTED,
             responses={404: {"description": "No campaign has this name."},
                        409: {"description": "Another round is active, or the campaign is archived."}})  # fmt: skip
def start(body: RoundIn, admin: Admin, settings: AppSettings) -> RoundOut:
    """Queue a round of a campaign now (one at a time in the install: 409 while another is queued or running)."""
    try:
        row = rounds.start_round(settings, RoundTrigger.admin, body.config, requested_by=admin.name,
                                 campaign=body.campaign)  # fmt: skip
    except rounds.InvalidRoundConfig as exc:
        raise unprocessable(str(exc), "body", "config") from exc
    except (rounds.RoundBusy, campaigns.CampaignRefused) as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    except QueueUnavailable as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the task queue is unreachable; try again") from exc
    return round_out(row)


@router.get("", response_model=list[RoundOut])
def list_rounds(_: Admin, limit: int = Query(50, ge=1, le=1000), campaign: CampaignName | None = None
                ) -> list[RoundOut]:  # fmt: skip
    """The newest rounds, of one campaign when `campaign` names it (404 for an unknown one)."""
    return [round_out(r) for r in rounds.list_rounds(limit, campaign)]


@router.get("/{round_id}", response_model=RoundOut)
def get_round(
    round_id: Id, _: Admin, after_step: int = Query(0, ge=0, description="Only steps after this one.")
) -> RoundOut:
    """One round with its per-step metrics (poll with after_step for new points)."""
    try:
        return round_out(*rounds.get_round(round_id, after_step))
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc


@router.post("/{round_id}/cancel", response_model=RoundOut)
def cancel(round_id: Id, _: Admin) -> RoundOut:
    try:
        return round_out(rounds.cancel_round(round_id))
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except rounds.RoundEnded as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
