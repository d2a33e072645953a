"""Admin: the install's preference model (GET /admin/reward, POST /admin/reward/train)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from app.api.deps import Admin, AppSettings
from app.api.schemas.reward import RewardModelOut, RewardOut
from core.queue import QueueUnavailable
from core.services import reward

router = APIRouter(prefix="/admin/reward", tags=["admin"])


def version_out(row) -> RewardModelOut:
    out = RewardModelOut.model_validate(row, from_attributes=True)
    out.state = row.state.value
    return out


@router.get("", response_model=RewardOut)
def get_reward(_: Admin) -> RewardOut:
    """The preference model in use and every version: held-out accuracy on people's votes against the
    votes trained on, beside the labelers' agreement and the judge's accuracy (the ceilings)."""
    current = reward.current()
    return RewardOut(current=version_out(current) if current else None,
                     versions=[version_out(row) for row in reward.versions()])  # fmt: skip


@router.post("/train", response_model=RewardModelOut, status_code=status.HTTP_202_ACCEPTED)
def train(admin: Admin, settings: AppSettings) -> RewardModelOut:
    """Train a new version on the train worker now (it also retrains by itself every
    DPOLOOP_REWARD_RETRAIN_VOTES new decisive votes); follow with GET /admin/reward. 409 while one is
    queued or training."""
    try:
        return version_out(reward.request_training(settings, by=admin.name))
    except reward.RewardBusy as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    except QueueUnavailable as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the task queue is unreachable; try again") from exc
