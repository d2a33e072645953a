"""The labeling loop: the next comparison, a vote on it (and its undo), and a report of an image."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response, status

from app.api.deps import AppSettings, CurrentLabeler
from app.api.errors import unprocessable
from app.api.media import media_url
from app.api.schemas.comparisons import ComparisonOut, ImageOut, ReportIn, ReportOut, VoteIn, VoteOut, VoteRetractedOut
from core.repo.handles import HANDLE_PATTERN
from core.services import guidelines, labeling, reports

router = APIRouter(prefix="/comparisons", tags=["labeling"])
Handle = Annotated[str, Path(pattern=HANDLE_PATTERN, description="The handle GET /comparisons/next gave")]


@router.get(
    "/next",
    response_model=ComparisonOut,
    responses={204: {"description": "The pool is empty: workers are generating; ask again shortly."}},
)
def next_comparison(
    labeler: CurrentLabeler,
    settings: AppSettings,
    exclude: Annotated[
        str | None,
        Query(
            max_length=4000,
            # Words of URL-safe characters: handles, or the ids an older page may still send (they name nothing).
            pattern=r"^[A-Za-z0-9_-]{1,32}(,[A-Za-z0-9_-]{1,32})*$",
            description="Handles of pairs to skip, comma-separated (the one on screen); others are ignored.",
        ),
    ] = None,
):
    skip = exclude.split(",") if exclude else None
    if skip and len(skip) > labeling.MAX_EXCLUDED:
        raise unprocessable(f"exclude takes at most {labeling.MAX_EXCLUDED} handles", "query", "exclude")
    try:
        served = labeling.next_comparison(labeler.id, settings, skip)
    except labeling.VoteCapReached as exc:
        raise capped(exc) from exc
    if served is None:
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    return ComparisonOut(
        id=served.handle,
        campaign=served.campaign,
        prompt=served.prompt,
        left=ImageOut(url=media_url(served.left_image)),
        right=ImageOut(url=media_url(served.right_image)),
    )


@router.post(
    "/{handle}/vote",
    response_model=VoteOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"description": "Already voted: the first vote, unchanged."},
        404: {"description": "No pair was served under this handle."},
        403: {"description": "Not a labeler of the pair's campaign (any more)."},
        409: {"description": "Not served to this labeler (another labeler's handle), or no longer open for votes."},
    },
)
def vote(handle: Handle, body: VoteIn, labeler: CurrentLabeler, settings: AppSettings, response: Response):
    try:
        comparison_id = labeling.comparison_of(handle, labeler.id)
        guidelines.check_version(body.guidelines_version)
        outcome = labeling.vote(comparison_id, labeler.id, body.choice, body.decision_ms, settings,
                                body.guidelines_version)  # fmt: skip
    except guidelines.UnknownGuidelines as exc:
        raise unprocessable(str(exc), "body", "guidelines_version") from exc
    except labeling.VoteCapReached as exc:
        raise capped(exc) from exc
    except labeling.ComparisonNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except labeling.NotInCampaign as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from exc
    except labeling.NotOpen as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    if not outcome.created:
        response.status_code = status.HTTP_200_OK
    v = outcome.vote
    return VoteOut(id=v.id, comparison_id=handle, choice=v.choice, decision_ms=v.decision_ms, created=outcome.created)


@router.delete(
    "/{handle}/vote",
    response_model=VoteRetractedOut,
    responses={
        404: {"description": "No pair was served under this handle, or you have no vote on it."},
        409: {"description": "Not your pair, or the vote stays: not your most recent one, past the undo window "
                             "(DPOLOOP_UNDO_WINDOW_S), or a round, the preference model or a verdict already used it."},
    },
)  # fmt: skip
def retract_vote(handle: Handle, labeler: CurrentLabeler, settings: AppSettings) -> VoteRetractedOut:
    """Undo: take back your most recent vote within a few seconds of casting it. A pair it had closed is
    held for you again (`reopened`), to vote on under the same handle."""
    try:
        comparison_id = labeling.comparison_of(handle, labeler.id)
        retraction = labeling.retract(comparison_id, labeler.id, settings)
    except (labeling.ComparisonNotFound, labeling.NoVoteToRetract) as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except (labeling.NotOpen, labeling.RetractionRefused) as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    return VoteRetractedOut(comparison_id=handle, vote_id=retraction.vote_id, reopened=retraction.reopened)


def capped(exc: labeling.VoteCapReached | reports.ReportCapReached) -> HTTPException:
    """429 with Retry-After: the labeler reached a vote cap (DPOLOOP_VOTES_PER_HOUR_CAP / _DAY_CAP) or the
    report cap (DPOLOOP_REPORT_RATE_LIMIT)."""
    return HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, str(exc), headers={"Retry-After": str(exc.retry_after_s)})


@router.post(
    "/{handle}/report",
    response_model=ReportOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"description": "Already reported by you: the first report."},
        404: {"description": "No pair was served under this handle."},
        409: {"description": "Never served to you (another labeler's handle)."},
        429: {"description": "At the report cap (DPOLOOP_REPORT_RATE_LIMIT); Retry-After says when to return."},
    },
)
def report(handle: Handle, body: ReportIn, labeler: CurrentLabeler, settings: AppSettings, response: Response
           ) -> ReportOut:  # fmt: skip
    """Report an image (harmful, explicit, broken, other): the pair leaves the pool for everyone and your
    vote on it leaves training; the others' votes leave too once an admin confirms the report."""
    try:
        comparison_id = labeling.comparison_of(handle, labeler.id)
        row, created = reports.report(comparison_id, labeler.id, body.side, body.reason, settings, body.note)
    except reports.ReportCapReached as exc:
        raise capped(exc) from exc
    except labeling.ComparisonNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except labeling.NotOpen as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    if not created:
        response.status_code = status.HTTP_200_OK
    return ReportOut(id=row.id, comparison_id=handle, side=row.side, reason=row.reason.value,
                     created_at=row.created_at)  # fmt: skip
