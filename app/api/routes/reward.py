"""Admin: each campaign's preference model (GET /admin/reward, POST /admin/reward/train; ?campaign=,
default `default`)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from app.api.deps import Admin, AppSettings
from app.api.schemas.campaigns import CampaignQuery
from app.api.schemas.reward import RewardModelOut, RewardOut
from core.queue import QueueUnavailable
from core.services import campaigns, reward

router = APIRouter(prefix="/admin/reward", tags=["admin"])
NO_CAMPAIGN = {404: {"description": "No campaign has this name."}}
BUSY = {409: {"description": "A version of the campaign's model is queued or training, or it is archived."}}


def version_out(row) -> RewardModelOut:
    out = RewardModelOut.model_validate(row, from_attributes=True)
    out.state = row.state.value
    return out


@router.get("", response_model=RewardOut, responses=NO_CAMPAIGN)
def get_reward(_: Admin, campaign: CampaignQuery = campaigns.DEFAULT) -> RewardOut:
    """The campaign's preference model in use and every version: held-out accuracy on its people's votes
    against the votes trained on, beside the labelers' agreement and the judge's accuracy (the ceilings)."""
    current, versions = reward.overview(campaign)
    return RewardOut(campaign=campaign, current=version_out(current) if current else None,
                     versions=[version_out(row) for row in versions])  # fmt: skip


@router.post("/train", response_model=RewardModelOut, status_code=status.HTTP_202_ACCEPTED,
             responses=NO_CAMPAIGN | BUSY)
def train(admin: Admin, settings: AppSettings, campaign: CampaignQuery = campaigns.DEFAULT) -> RewardModelOut:
    """Train a new version of the campaign's model on the train worker now (it also retrains by itself every
    DPOLOOP_REWARD_RETRAIN_VOTES new decisive votes of the campaign); follow with GET /admin/reward. 409 while
    one of the campaign's is queued or training."""
    try:
        return version_out(reward.request_training(settings, by=admin.name, campaign=campaign))
    except (reward.RewardBusy, campaigns.CampaignRefused) as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    except QueueUnavailable as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the task queue is unreachable; try again") from exc
