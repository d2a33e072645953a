"""Task: the periodic review of each campaign's candidate under judgement, a backstop of the review after each vote
on its pairs (a review that failed there, standing that changed since, what serves changed, the cap)."""

from __future__ import annotations

from core.queue import REVIEW_CANDIDATE, celery_app
from core.services import candidates
from core.settings import get_settings


@celery_app.task(name=REVIEW_CANDIDATE)
def review_candidate() -> dict[int, str | None]:
    """Campaign id → its candidacy's state after the review."""
    states = candidates.review_all(get_settings())
    return {campaign_id: state.value if state else None for campaign_id, state in states.items()}
