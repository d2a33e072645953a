"""Candidates: a round's checkpoint that passed the gate serves no client until its campaign's labelers,
blind, on same-seed pairs against what serves the campaign, find it better (core/verdict.py), or an admin
promotes it. Each campaign judges its own candidate; one campaign's verdict never touches another's.

The one home of a candidacy's life: `nominate` (in the transaction that registers the checkpoint),
`review` (after each counted vote on its pairs, and periodically as a backstop: the verdict from the
counted votes in vote order, tallies stored, a decision acted on), and the admin's `promote_by_admin`
and `reject_by_admin`. A decision is one conditional UPDATE (`... WHERE state = 'judging'`) in the
transaction that acts on it, so two processes reviewing at once apply it once; on Postgres the
judging row is also locked while it is reviewed, so stored tallies never go back to older votes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Self

from sqlalchemy import select, update
from sqlalchemy.orm import Session, aliased

from core.db.models import Campaign, Candidacy, Checkpoint, Comparison, Deployment, Evaluation, Generation, Vote
from core.db.session import session_scope
from core.repo import candidacies
from core.repo import checkpoints as checkpoints_repo
from core.services import campaigns
from core.services.evaluations import uncounted_voters
from core.settings import Settings
from core.states import DEFAULT_CAMPAIGN_ID, CandidateState, CheckpointStatus, Choice, ComparisonKind, ComparisonState
from core.verdict import Outcome, Verdict, VerdictRule, judge

log = logging.getLogger(__name__)

LABELERS = "labelers"  # decided_by of the labelers' verdict
SYSTEM = "system"  # decided_by when the loop ended it (superseded, what serves changed, cannot serve)


@dataclass(frozen=True)
class Candidate:
    """A checkpoint's candidacy: judged blind by the labelers against `serving_id` (what served when it
    became a candidate) until core/verdict.py decides. While it is judged, labelers get the state only
    (counts, estimate and bounds null: live counts would tell which side of an eval pair is winning)."""

    state: str  # judging | promoted | rejected | undecided
    wins: int | None  # counted votes (people in good standing) at the last review, frozen at the decision
    losses: int | None
    ties: int | None
    votes_needed_estimate: int | None  # a rough guide while judging; null once decided
    bounds: tuple[float, float] | None  # the win rate's anytime-valid confidence sequence: [low, high]
    serving_id: int
    reason: str | None  # why it was decided or ended undecided
    decided_by: str | None  # "labelers", an admin's name, or "system"
    created_at: datetime
    decided_at: datetime | None

    @classmethod
    def of(cls, candidacy: Candidacy, **more) -> Self:
        """The candidacy as it is shown (`more`: the fields a subclass adds)."""
        c = candidacy
        return cls(c.state.value, c.wins, c.losses, c.ties, c.votes_needed_estimate,
                   tuple(c.bounds) if c.bounds else None, c.serving_id, c.reason, c.decided_by, c.created_at,
                   c.decided_at, **more)  # fmt: skip


class NotJudged(ValueError):
    """The checkpoint is not a candidate under judgement (nothing to reject)."""


def nominate(session: Session, checkpoint_id: int) -> Candidacy:
    """Make a registered checkpoint its campaign's candidate, judged against what serves the campaign now;
    the campaign's older candidacy still judged ends undecided. In the caller's transaction (rounds.publish)."""
    campaign_id = session.get(Checkpoint, checkpoint_id).campaign_id
    for older in session.scalars(candidacies.judging_query(campaign_id).with_for_update()).all():
        _decide(session, older, CandidateState.undecided, f"superseded by checkpoint {checkpoint_id}", SYSTEM)
    candidacy = Candidacy(checkpoint_id=checkpoint_id,
                          serving_id=checkpoints_repo.active_checkpoint_id(session, campaign_id))  # fmt: skip
    session.add(candidacy)
    session.flush()
    log.info("checkpoint %s is a candidate, judged by campaign %s's labelers against checkpoint %s", checkpoint_id,
             campaign_id, candidacy.serving_id)  # fmt: skip
    return candidacy


def review_all(settings: Settings) -> dict[int, CandidateState | None]:
    """Review every campaign's judged candidacy, each in its own transaction: campaign id → its state after
    (a campaign whose review failed is logged and left to the next review)."""
    with session_scope() as session:
        judged = list(candidacies.judging_campaigns(session))
    states = {}
    for campaign_id in judged:
        try:
            states[campaign_id] = review(settings, campaign_id)
        except Exception:
            log.exception("reviewing campaign %s's candidate failed; the next review retries", campaign_id)
    return states


def review(settings: Settings, campaign_id: int = DEFAULT_CAMPAIGN_ID) -> CandidateState | None:
    """Recompute the campaign's judged candidacy's verdict from the counted votes on its pairs and act on a
    decision; its state after (None when none is judged)."""
    with session_scope() as session:
        candidacy = session.scalars(candidacies.judging_query(campaign_id).limit(1).with_for_update()).first()
        if candidacy is None:
            return None
        serving = checkpoints_repo.active_checkpoint_id(session, campaign_id)
        checkpoint = session.get(Checkpoint, candidacy.checkpoint_id)
        campaign = session.get(Campaign, campaign_id)
        if campaign.archived_at is not None:  # nobody labels it any more
            return _decide(session, candidacy, CandidateState.undecided, f"campaign {campaign.name} was archived",
                           SYSTEM)  # fmt: skip
        if serving != candidacy.serving_id:
            reason = f"what serves changed: checkpoint {serving} serves, not {candidacy.serving_id}"
            return _decide(session, candidacy, CandidateState.undecided, reason, SYSTEM)
        if checkpoint.status == CheckpointStatus.broken:
            reason = f"it cannot serve: {checkpoint.status_reason}"
            return _decide(session, candidacy, CandidateState.undecided, reason, SYSTEM)
        rule = VerdictRule.from_settings(settings)
        verdict = judge(_outcomes(session, candidacy, uncounted_voters(session, settings)), rule)
        if verdict.state == CandidateState.judging:
            session.execute(update(Candidacy).where(Candidacy.id == candidacy.id,
                                                    Candidacy.state == CandidateState.judging)
                            .values(**_tallies(verdict)))  # fmt: skip
            return CandidateState.judging
        state = CandidateState(verdict.state.value)
        problem = checkpoints_repo.checkpoint_files_ok(checkpoint) if state == CandidateState.promoted else None
        if problem:
            reason = f"the labelers found it better, but it cannot serve: {problem}"
            return _decide(session, candidacy, CandidateState.undecided, reason, SYSTEM, verdict)
        reason = _reason(verdict, rule)
        decided = _decide(session, candidacy, state, reason, LABELERS, verdict)
        if decided == CandidateState.promoted:  # the hot swap, as any promotion
            checkpoints_repo.promote(session, candidacy.checkpoint_id, by=LABELERS, reason=reason)
        return decided


def promote_by_admin(checkpoint_id: int, by: str, reason: str | None = None, campaign: str | None = None
                     ) -> Deployment:  # fmt: skip
    """An admin serves this checkpoint to its campaign (an older one: a rollback; the base: to `campaign`).
    The campaign's judged candidacy ends: promoted when it is this checkpoint's, undecided otherwise (what
    serves changed). LookupError (UnknownCampaign among them), CampaignRefused for an archived campaign, or
    checkpoints' PromotionRefused (then nothing changes)."""
    with session_scope() as session:
        checkpoint = session.get(Checkpoint, checkpoint_id)
        if checkpoint is None:
            raise LookupError(f"checkpoint {checkpoint_id} does not exist")
        campaign_id = campaigns.by_name(session, campaign, active=True).id if campaign else checkpoint.campaign_id
        candidacy = session.scalars(candidacies.judging_query(campaign_id).with_for_update()).first()
        if candidacy is not None and candidacy.checkpoint_id == checkpoint_id:
            _decide(session, candidacy, CandidateState.promoted, f"promoted by {by}: {reason or 'admin'}", by)
        elif candidacy is not None:
            ended = f"what serves changed: {by} promoted checkpoint {checkpoint_id}"
            _decide(session, candidacy, CandidateState.undecided, ended, by)
        return checkpoints_repo.promote_in(session, campaign_id, checkpoint_id, by=by, reason=reason)


def reject_by_admin(checkpoint_id: int, by: str, reason: str | None = None) -> Candidacy:
    """An admin rejects the judged candidate: it never serves unless promoted by hand. LookupError, or
    NotJudged when the checkpoint is not the candidate under judgement."""
    with session_scope() as session:
        if session.get(Checkpoint, checkpoint_id) is None:
            raise LookupError(f"checkpoint {checkpoint_id} does not exist")
        candidacy = session.scalars(candidacies.judging_query(None).where(Candidacy.checkpoint_id == checkpoint_id)
                                    .with_for_update()).first()  # fmt: skip
        if candidacy is None:
            ended = session.scalar(select(Candidacy.state).where(Candidacy.checkpoint_id == checkpoint_id))
            raise NotJudged(f"checkpoint {checkpoint_id} is not a candidate under judgement"
                            + (f" (its candidacy ended {ended.value})" if ended else ""))  # fmt: skip
        _decide(session, candidacy, CandidateState.rejected, f"rejected by {by}: {reason or 'admin'}", by)
        session.refresh(candidacy)
        return candidacy


def generation_refusal(session: Session, checkpoint_id: int) -> str | None:
    """Why a client may not have an image of this checkpoint: it is judged, or the labelers (or an admin)
    rejected it and no admin promoted it since; None otherwise."""
    state = session.scalar(select(Candidacy.state).where(Candidacy.checkpoint_id == checkpoint_id))
    if state == CandidateState.judging:
        return f"checkpoint {checkpoint_id} is a candidate under the labelers' judgement: it serves no client yet"
    served = session.scalar(select(Deployment.id).where(Deployment.checkpoint_id == checkpoint_id).limit(1))
    if state == CandidateState.rejected and served is None:
        return f"checkpoint {checkpoint_id} was rejected as a candidate: it serves no client unless promoted"
    return None


def review_after_vote(comparison_id: int, settings: Settings) -> None:
    """After a vote's commit: review the judged candidacy when the vote was on one of its pairs (in the
    pair's campaign). A failure is logged and never touches the vote (the periodic review tries again)."""
    try:
        with session_scope() as session:
            on_candidate = session.scalar(
                select(Comparison.campaign_id)
                .join(Candidacy, Comparison.checkpoint_id == Candidacy.checkpoint_id)
                .where(Comparison.id == comparison_id, Comparison.kind == ComparisonKind.eval,
                       Candidacy.state == CandidateState.judging)
            )  # fmt: skip
        if on_candidate is not None:
            review(settings, on_candidate)
    except Exception:
        log.exception("reviewing the candidate after a vote on comparison %s failed; the periodic review retries",
                      comparison_id)  # fmt: skip


# ---- inside a transaction -----------------------------------------------------------------------------
def _outcomes(session: Session, candidacy: Candidacy, uncounted: set[int]) -> list[Outcome]:
    """The counted votes on the candidacy's evaluation pairs, in vote order, from the candidate's side."""
    winner = aliased(Generation)
    query = (
        select(Vote.choice, winner.checkpoint_id)
        .join(Comparison, Comparison.id == Vote.comparison_id)
        .join(Evaluation, Evaluation.id == Comparison.evaluation_id)
        .outerjoin(winner, winner.id == Vote.winner_generation_id)
        .where(Evaluation.checkpoint_id == candidacy.checkpoint_id, Evaluation.baseline_id == candidacy.serving_id,
               Comparison.kind == ComparisonKind.eval)
        .order_by(Vote.id)
    )  # fmt: skip
    if uncounted:
        query = query.where(Vote.labeler_id.not_in(uncounted))
    decisive = {True: Outcome.win, False: Outcome.loss}
    other = {Choice.tie: Outcome.tie, Choice.both_bad: Outcome.both_bad, Choice.skip: Outcome.skip}
    return [other[choice] if choice in other else decisive[made_by == candidacy.checkpoint_id]
            for choice, made_by in session.execute(query)]  # fmt: skip


def _tallies(verdict: Verdict) -> dict:
    return {"wins": verdict.wins, "losses": verdict.losses, "ties": verdict.ties, "bounds": list(verdict.bounds),
            "votes_needed_estimate": verdict.votes_needed_estimate}  # fmt: skip


def _reason(verdict: Verdict, rule: VerdictRule) -> str:
    low, high = verdict.bounds
    counts = f"{verdict.wins} wins, {verdict.losses} losses, {verdict.ties} ties; win rate in [{low:.3f}, {high:.3f}]"
    if verdict.state == CandidateState.promoted:
        return f"the labelers found it better than what serves ({counts}, α={rule.alpha})"
    if verdict.state == CandidateState.rejected:
        return f"the labelers found it not better by {rule.margin} ({counts}, β={rule.beta})"
    return f"no verdict within {rule.max_votes} votes ({counts}): what serves keeps serving"


def _decide(
    session: Session, candidacy: Candidacy, state: CandidateState, reason: str, by: str, verdict: Verdict | None = None
) -> CandidateState | None:
    """End a judged candidacy once (None when another process ended it first): its tallies frozen, its
    open evaluation pairs out of the pool, a rejected checkpoint's status saying so. Serving a promoted
    one is the caller's (the labelers' verdict, or an admin's promotion)."""
    values = {"state": state, "reason": reason, "decided_by": by, "decided_at": datetime.now(UTC)}
    values |= (_tallies(verdict) if verdict else {}) | {"votes_needed_estimate": None}
    ended = session.execute(
        update(Candidacy)
        .where(Candidacy.id == candidacy.id, Candidacy.state == CandidateState.judging)
        .values(**values)
    ).rowcount
    if ended != 1:
        return None
    pairs = select(Evaluation.id).where(Evaluation.checkpoint_id == candidacy.checkpoint_id,
                                        Evaluation.baseline_id == candidacy.serving_id)  # fmt: skip
    session.execute(
        update(Comparison)
        .where(Comparison.evaluation_id.in_(pairs.scalar_subquery()), Comparison.state == ComparisonState.ready)
        .values(state=ComparisonState.retired)
    )
    if state == CandidateState.rejected:
        checkpoint = session.get(Checkpoint, candidacy.checkpoint_id)
        checkpoint.status, checkpoint.status_reason = CheckpointStatus.rejected, reason
    log.info("candidate checkpoint %s: %s by %s (%s)", candidacy.checkpoint_id, state.value, by, reason)
    return state
