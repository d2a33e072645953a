"""The labeling loop: the next comparison a labeler sees, their vote on it, and its undo. The hot paths'
SQL is in core/repo/comparisons.py and core/repo/retractions.py; the caps' counts are asked here."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from core.db.models import DEFAULT_CAMPAIGN_ID, Campaign, Vote
from core.db.session import read_scope, session_scope
from core.repo import comparisons as repo
from core.repo import handles, retractions
from core.repo.comparisons import ComparisonNotFound, NotOpen, ShownComparison, VoteOutcome
from core.repo.retractions import NoVoteToRetract, Retraction, RetractionRefused
from core.services import campaigns, candidates, quality
from core.services.campaigns import NotInCampaign
from core.settings import Settings
from core.states import Choice

__all__ = ["ComparisonNotFound", "NoVoteToRetract", "NotInCampaign", "NotOpen", "Retraction", "RetractionRefused",
           "ShownComparison", "VoteCapReached", "VoteOutcome"]
MAX_EXCLUDED = 100  # handles a labeler may ask to skip (the one on screen, a few in flight)


class VoteCapReached(RuntimeError):
    """The labeler cast as many votes as the caps allow for now; `retry_after_s` says when to return."""

    def __init__(self, message: str, retry_after_s: int):
        super().__init__(message)
        self.retry_after_s = retry_after_s


def check_caps(labeler_id: int, settings: Settings) -> None:
    """VoteCapReached when the labeler is at DPOLOOP_VOTES_PER_HOUR_CAP or _PER_DAY_CAP (no query
    at all while both are 0, the default)."""
    now = datetime.now(UTC)
    caps = ((settings.votes_per_hour_cap, timedelta(hours=1)), (settings.votes_per_day_cap, timedelta(days=1)))
    for cap, window in caps:
        if cap <= 0:
            continue
        with session_scope() as session:
            count, oldest = session.execute(
                select(func.count(Vote.id), func.min(Vote.created_at))
                .where(Vote.labeler_id == labeler_id, Vote.created_at >= now - window)
            ).one()  # fmt: skip
        if count >= cap:
            wait = max(1, int((oldest + window - now).total_seconds()) + 1) if oldest else int(window.total_seconds())
            hours = "hour" if window == timedelta(hours=1) else "day"
            raise VoteCapReached(f"come back later: {count} votes in the last {hours} (the cap is {cap})", wait)


def next_comparison(labeler_id: int, settings: Settings, exclude: list[str] | None = None) -> ShownComparison | None:
    """Lease the next comparison for this labeler (evaluation pairs first, to people in good standing
    only: an AI labeler's or a doubtful labeler's word must not decide what serves), or None: the pool
    is empty. `exclude`: handles of pairs to skip (those not this labeler's name none). VoteCapReached
    when the labeler is at a vote cap."""
    check_caps(labeler_id, settings)
    with session_scope() as session:
        order = campaigns.draw_order(session, labeler_id)
        if not order:  # in no campaign: nothing to label
            return None
        skip = handles.comparisons_of(session, labeler_id, exclude or ())
        measures = lambda: not quality.uncounted(session, settings, [labeler_id])  # noqa: E731 (asked only if need be)
        shown = repo.next_for_labeler(session, labeler_id, settings.lease_s, skip, settings.max_held_per_labeler,
                                      settings.gold_rate, measures, order)  # fmt: skip
        if shown is None or shown.campaign_id == DEFAULT_CAMPAIGN_ID:
            return shown
        return replace(shown, campaign=session.get(Campaign, shown.campaign_id).name)


def comparison_of(handle: str, labeler_id: int) -> int:
    """The comparison a handle names (core/repo/handles.py): ComparisonNotFound for a handle never given
    out, NotOpen for another labeler's (it names nothing to this one)."""
    with read_scope() as session:
        found = handles.holder(session, handle)
    if found is None:
        raise ComparisonNotFound("no pair was served under this handle")
    comparison_id, holder = found
    if holder != labeler_id:
        raise NotOpen("this pair was not served to you")
    return comparison_id


def vote(
    comparison_id: int, labeler_id: int, choice: Choice, decision_ms: int | None, settings: Settings,
    guidelines_version: int | None = None,
) -> VoteOutcome:
    """Record a vote once per labeler and comparison; a repeat returns the first vote unchanged.
    ComparisonNotFound if the comparison does not exist; NotOpen (a first vote) unless it was served
    to this labeler and is still open: nobody votes on a pair they were not shown, or on a retired one.
    VoteCapReached when the labeler is at a vote cap (a repeat of a recorded vote still answers)."""
    if settings.votes_per_hour_cap or settings.votes_per_day_cap:
        with session_scope() as session:
            repeat = session.scalar(select(Vote.id).where(Vote.comparison_id == comparison_id,
                                                          Vote.labeler_id == labeler_id))  # fmt: skip
        if repeat is None:
            check_caps(labeler_id, settings)
    with session_scope() as session:
        campaigns.check_voter(session, comparison_id, labeler_id)  # assignments change while a pair is on screen
        outcome = repo.record_vote(session, comparison_id, labeler_id, choice, decision_ms,
                                   settings.votes_per_comparison, guidelines_version)  # fmt: skip
    if outcome.created:  # committed: the review after it can no longer lose or fail it
        candidates.review_after_vote(comparison_id, settings)
    return outcome


def retract(comparison_id: int, labeler_id: int, settings: Settings) -> Retraction:
    """Undo: take back the labeler's most recent vote, on this comparison, within DPOLOOP_UNDO_WINDOW_S,
    unless a round, a preference model or a verdict already used it (core/repo/retractions.py).
    NoVoteToRetract, or RetractionRefused with the reason."""
    with session_scope() as session:
        retraction = retractions.retract_latest_vote(session, comparison_id, labeler_id, settings.undo_window_s,
                                                     settings.votes_per_comparison, settings.lease_s)  # fmt: skip
    # A candidate's tallies counted the vote: recount them (after the commit, as after a vote).
    candidates.review_after_vote(comparison_id, settings)
    return retraction
