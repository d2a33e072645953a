"""The labeling loop: the next comparison a labeler sees, and their vote on it (the hot paths;
the SQL is in core/repo/comparisons.py)."""

from __future__ import annotations

from core.db.session import session_scope
from core.repo import comparisons as repo
from core.repo.comparisons import ComparisonNotFound, NotServed, Served, VoteOutcome
from core.settings import Settings
from core.states import Choice

__all__ = ["ComparisonNotFound", "NotServed", "Served", "VoteOutcome"]
MAX_EXCLUDED = 100  # ids a labeler may ask to skip (the one on screen, a few in flight)


def next_comparison(labeler_id: int, settings: Settings, exclude: list[int] | None = None) -> Served | None:
    """Lease the next comparison for this labeler (evaluation pairs first), or None: the pool is empty."""
    with session_scope() as session:
        return repo.next_for_labeler(session, labeler_id, settings.lease_s, exclude, settings.max_held_per_labeler,
                                     settings.gold_rate)  # fmt: skip


def vote(
    comparison_id: int, labeler_id: int, choice: Choice, decision_ms: int | None, settings: Settings
) -> VoteOutcome:
    """Record a vote once per labeler and comparison; a repeat returns the first vote unchanged.
    ComparisonNotFound if the comparison does not exist; NotServed (a first vote) unless it was served
    to this labeler and is still open: nobody votes on a pair they were not shown, or on a retired one."""
    with session_scope() as session:
        return repo.record_vote(session, comparison_id, labeler_id, choice, decision_ms, settings.votes_per_comparison)
