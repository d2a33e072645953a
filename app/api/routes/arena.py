"""Admin: a campaign's arena (every checkpoint of its lineage with human evaluation votes on one scale)
and its matches."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query, status

from app.api.deps import Admin, AppSettings
from app.api.schemas.arena import MatchIn, MatchOut
from app.api.schemas.campaigns import CampaignName
from core.bradley_terry import Ranking
from core.services import arena as arena_service

router = APIRouter(prefix="/admin/arena", tags=["checkpoints"])


@router.get("", response_model=Ranking, tags=["admin"], responses={404: {"description": "No campaign has this name."}})
def arena(_: Admin, settings: AppSettings, campaign: CampaignName = "default") -> Ranking:
    """A campaign's checkpoints with human evaluation votes (its labelers') on one Bradley-Terry scale
    (log-odds of winning, the base at 0), with bootstrap 95% intervals; a tie counts half a win for each
    side. Only votes of people in good standing count: not AI labelers', nor those of labelers out of it now."""
    return arena_service.arena(settings=settings, campaign=campaign)


@router.post("/matches", response_model=MatchOut, status_code=status.HTTP_201_CREATED, tags=["admin"])
def queue_match(body: MatchIn, admin: Admin) -> MatchOut:
    """Compare two checkpoints of one campaign's lineage (or one of them and the base): both render the
    campaign's evaluation prompts afresh (the same seeds on both sides, the match's own) on the generate
    worker between pool batches, then the pairs are served to its labelers blind, before train pairs,
    whatever serves; their votes join its arena. 409 when the two were already compared, or are of two
    campaigns' lineages."""
    try:
        match = arena_service.request_match(body.checkpoint_a_id, body.checkpoint_b_id, by=admin.name)
    except arena_service.MatchRefused as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    return MatchOut.model_validate(match, from_attributes=True)


@router.get("/matches", response_model=list[MatchOut], tags=["admin"],
            responses={404: {"description": "No campaign has this name."}})  # fmt: skip
def list_matches(_: Admin, limit: int = Query(100, ge=1, le=1000), campaign: CampaignName | None = None
                 ) -> list[MatchOut]:  # fmt: skip
    """Arena matches, newest first, with their state (of one campaign's lineage when `campaign` names it)."""
    found = arena_service.matches(limit, campaign)
    return [MatchOut.model_validate(m, from_attributes=True) for m in found]
