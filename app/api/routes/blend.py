"""Admin: the install's default blend — the campaigns' serving adapters, at weights, that make a generation
naming no campaign (`{"default": 1}` until an admin sets one)."""

from __future__ import annotations

from fastapi import APIRouter, status
from fastapi.concurrency import run_in_threadpool

from app.api.deps import Admin
from app.api.errors import unprocessable
from core.schemas.generation import BlendIn
from core.services import blends

router = APIRouter(prefix="/admin/blend", tags=["admin"])


@router.get("", response_model=BlendIn)
def read(_: Admin) -> BlendIn:
    return BlendIn(adapters=blends.read_default())


@router.put("", response_model=BlendIn, status_code=status.HTTP_200_OK,
            responses={422: {"description": "A campaign that does not exist, is archived or serves a full "
                                            "fine-tune, or weights out of range."}})  # fmt: skip
async def replace(body: BlendIn, _: Admin) -> BlendIn:
    """Campaigns not named leave the blend; a request naming no campaign gets this blend from now on."""
    try:
        return BlendIn(adapters=await run_in_threadpool(blends.set_default, body.adapters))
    except blends.UnusableBlend as exc:
        raise unprocessable(str(exc), "body", "adapters") from exc
