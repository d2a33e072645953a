"""Admin: the prompt filter — words, phrases and patterns no prompt may contain."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response, status

from app.api.deps import Admin, AppSettings, Id
from app.api.errors import unprocessable
from app.api.schemas.prompt_filter import PromptFilterApplied, PromptFilterIn, PromptFilterOut
from core.services import prompt_filter

router = APIRouter(prefix="/admin/prompt-filter", tags=["admin"])


@router.get("", response_model=list[PromptFilterOut])
def list_rules(_: Admin) -> list[PromptFilterOut]:
    return [PromptFilterOut.model_validate(r, from_attributes=True) for r in prompt_filter.list_rules()]


@router.post("", response_model=PromptFilterOut, status_code=status.HTTP_201_CREATED)
def add_rule(body: PromptFilterIn, admin: Admin) -> PromptFilterOut:
    """A word or phrase (matched as whole words, any case) or a regular expression that no prompt
    may contain: POST /generations and new prompts are refused with a 422 naming the rule."""
    try:
        return PromptFilterOut.model_validate(prompt_filter.add_rule(body.pattern, body.is_regex, admin.name),
                                              from_attributes=True)  # fmt: skip
    except prompt_filter.RuleInvalid as exc:
        raise unprocessable(str(exc), "body", "pattern") from exc


@router.delete("/{rule_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_rule(rule_id: Id, _: Admin) -> Response:
    try:
        prompt_filter.delete_rule(rule_id)
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/apply", response_model=PromptFilterApplied)
def apply_rules(_: Admin, settings: AppSettings) -> PromptFilterApplied:
    """Retire every active prompt the filter refuses now (prompts added or imported before a rule)."""
    try:
        refused = prompt_filter.apply_to_prompts(settings)
    except prompt_filter.ClassifierUnavailable as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from exc
    return PromptFilterApplied(retired=[{"id": i, "text": t, "reason": r} for i, t, r in refused])
