"""Admin: the prompt pool — adding prompts, retiring them, and the fixed evaluation set."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query, status

from app.api.deps import Admin, Id
from app.api.errors import unprocessable
from app.api.schemas.campaigns import CampaignQuery
from app.api.schemas.prompts import PromptOut, PromptPatch, PromptsAdded, PromptsIn
from core.repo.prompts import PromptUsage
from core.services import campaigns, prompts
from core.services.prompt_filter import ClassifierUnavailable
from core.states import PromptSource

router = APIRouter(prefix="/admin/prompts", tags=["admin"])


@router.post("", response_model=PromptsAdded, status_code=status.HTTP_201_CREATED)
def add_prompts(body: PromptsIn, _: Admin, campaign: CampaignQuery = campaigns.DEFAULT) -> PromptsAdded:
    """Prompts for a campaign's pool (or its evaluation set); ones it has are skipped."""
    try:
        added, skipped = prompts.add_prompts(body.prompts, source=PromptSource.admin, for_eval=body.for_eval,
                                             campaign=campaign)  # fmt: skip
    except (prompts.PromptsBusy, campaigns.CampaignRefused) as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    except ValueError as exc:  # a prompt too long, empty, or refused by the prompt filter (named)
        raise unprocessable(str(exc), "body", "prompts") from exc
    except ClassifierUnavailable as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from exc
    return PromptsAdded(added=added, skipped=skipped)


def prompt_out(usage: PromptUsage) -> PromptOut:
    p = usage.prompt
    return PromptOut(id=p.id, text=p.text, source=p.source.value, active=p.active, for_eval=p.for_eval,
                     pairs=usage.pairs, votes=usage.votes, created_at=p.created_at)  # fmt: skip


@router.get("", response_model=list[PromptOut])
def list_prompts(
    _: Admin, limit: int = Query(500, ge=1, le=10_000), offset: int = Query(0, ge=0, le=10**9),
    campaign: CampaignQuery = campaigns.DEFAULT,
) -> list[PromptOut]:
    """A campaign's prompts, newest first, with the pairs made from them and the votes on those."""
    return [prompt_out(u) for u in prompts.list_prompts(limit, offset, campaign)]


@router.patch("/{prompt_id}", response_model=PromptOut)
def update_prompt(prompt_id: Id, body: PromptPatch, _: Admin) -> PromptOut:
    """Retire (`active: false`: it leaves the pool, its votes stay) or restore a prompt, or move it
    in or out of its campaign's fixed evaluation set (`for_eval`)."""
    if body.active is None and body.for_eval is None:
        raise unprocessable("give `active`, `for_eval` or both", "body")
    try:
        return prompt_out(prompts.update_prompt(prompt_id, body.active, body.for_eval))
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
