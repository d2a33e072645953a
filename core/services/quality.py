"""Whose votes to trust: per labeler, accuracy on gold pairs (whose answer the system knows), the
share of "left" among decisive votes (a bot clicking one side shows up at once: sides are shuffled
per labeler), agreement with the others' majority, chance-corrected agreement across labelers
(Krippendorff's alpha, with and without each labeler), fast decisions and pass rates.

A labeler is in good standing, and their votes train, unless an admin said otherwise or a rule
with enough evidence says no: gold accuracy whose whole 95% interval lies below the floor, or a
side bias beyond the limit once they have enough decisive votes. Too little evidence counts as good.
Only people in good standing measure checkpoints (`uncounted`): judged whenever votes are read, so a
labeler found out later stops counting in every win rate at once.

A campaign's report gives its figures (its labelers, on its pairs: agreement on its question, its
gold pairs); standing stays the person's, from every vote, since it decides whether any vote trains.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass

import krippendorff
import numpy as np
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from core.db.models import Comparison, Labeler, Vote
from core.db.session import session_scope
from core.services.labeler_stats import LabelerStats, campaign_id_of, in_campaign, labeler_stats
from core.settings import Settings
from core.states import DECISIVE, Choice, ComparisonKind, GoldAnswer
from core.win_rate import wilson

ALPHA_UNITS = 5000  # the newest pairs with several decisive votes that alpha is computed on
GOOD, EXCLUDED = "good", "excluded"  # an admin's override


@dataclass
class LabelerQuality:
    """How far a labeler's votes can be trusted (GET /admin/labelers/quality)."""

    labeler_id: int
    name: str
    active: bool
    ai: bool
    votes: int
    decisive_votes: int
    gold_votes: int
    gold_correct: int
    gold_accuracy: float | None
    gold_interval: tuple[float, float] | None  # Wilson's 95%
    side_bias: float | None  # share of "left" among decisive votes (sides are shuffled: 0.5 is unbiased)
    agreement: float | None  # with the others' majority on the same pair
    agreement_votes: int
    alpha_without: float | None  # Krippendorff's alpha (nominal) of everybody else
    alpha_all: float | None  # ... and of everybody (the report's alpha, on each row)
    fast_share: float | None  # decisions faster than DPOLOOP_QUALITY_FAST_DECISION_MS
    tie_share: float | None
    skip_share: float | None
    override: str | None  # an admin's standing: good | excluded
    good_standing: bool  # the votes train
    reasons: list[str]  # why not in good standing


@dataclass
class QualityReport:
    labelers: list[LabelerQuality]
    alpha: float | None  # Krippendorff's alpha (nominal) over all labelers


def _gold_tallies(session, labeler_ids: Collection[int] | None = None,
                  campaign_id: int | None = None) -> dict[int, list[int]]:  # fmt: skip
    """Per labeler (all, or these): [gold votes, correct] (skips are not answers, so not counted)."""
    query = (
        select(Vote.labeler_id, Vote.choice, Vote.winner_generation_id, Comparison.generation_a_id,
               Comparison.gold_answer)
        .join(Comparison, Comparison.id == Vote.comparison_id)
        .where(Comparison.kind == ComparisonKind.gold, Vote.choice != Choice.skip, in_campaign(campaign_id))
    )  # fmt: skip
    if labeler_ids is not None:
        query = query.where(Vote.labeler_id.in_(labeler_ids))
    rows = session.execute(query)
    tallies: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for labeler_id, choice, winner, a_id, answer in rows:
        both_bad = answer == GoldAnswer.both_bad
        correct = choice == Choice.both_bad if both_bad else choice in DECISIVE and winner == a_id
        tallies[labeler_id][0] += 1
        tallies[labeler_id][1] += correct
    return tallies


def _side_tallies(session, labeler_ids: Collection[int] | None = None,
                  campaign_id: int | None = None) -> dict[int, list[int]]:  # fmt: skip
    """Per labeler (all, or these): [decisive votes, of them left]."""
    query = (
        select(Vote.labeler_id, func.count(Vote.id), func.sum(case((Vote.choice == Choice.left, 1), else_=0)))
        .where(Vote.choice.in_(DECISIVE), in_campaign(campaign_id))
        .group_by(Vote.labeler_id)
    )
    if labeler_ids is not None:
        query = query.where(Vote.labeler_id.in_(labeler_ids))
    tallies: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for labeler_id, decisive, left in session.execute(query):
        tallies[labeler_id] = [decisive, left]
    return tallies


def _speed_tallies(session, fast_ms: int, campaign_id: int | None) -> dict[int, list[int]]:
    """Per labeler: [timed votes, of them faster than fast_ms]."""
    query = select(
        Vote.labeler_id, func.count(Vote.decision_ms), func.sum(case((Vote.decision_ms < fast_ms, 1), else_=0))
    ).where(in_campaign(campaign_id)).group_by(Vote.labeler_id)
    tallies: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for labeler_id, timed, fast in session.execute(query):
        tallies[labeler_id] = [timed, fast]
    return tallies


def _reliability(session, campaign_id: int | None) -> tuple[list[int], np.ndarray] | None:
    """Labelers × pairs: 1 where the labeler preferred image A, 0 for B, NaN where they did not decide;
    the newest train and gold pairs with at least two decisive votes."""
    rows = session.execute(
        select(Vote.comparison_id, Vote.labeler_id, Vote.winner_generation_id, Comparison.generation_a_id)
        .join(Comparison, Comparison.id == Vote.comparison_id)
        .where(Vote.choice.in_(DECISIVE), Comparison.kind.in_((ComparisonKind.train, ComparisonKind.gold)),
               in_campaign(campaign_id))
    ).all()  # fmt: skip
    per_pair: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for comparison_id, labeler_id, winner, a_id in rows:
        per_pair[comparison_id].append((labeler_id, int(winner == a_id)))
    units = sorted((c for c, votes in per_pair.items() if len(votes) >= 2), reverse=True)[:ALPHA_UNITS]
    coders = sorted({labeler for c in units for labeler, _ in per_pair[c]})
    if len(units) < 2 or len(coders) < 2:
        return None
    index = {labeler: i for i, labeler in enumerate(coders)}
    data = np.full((len(coders), len(units)), np.nan)
    for j, c in enumerate(units):
        for labeler, value in per_pair[c]:
            data[index[labeler], j] = value
    return coders, data


def _alpha(data: np.ndarray) -> float | None:
    pairable = (~np.isnan(data)).sum(axis=0) >= 2
    if pairable.sum() < 2 or len(np.unique(data[:, pairable][~np.isnan(data[:, pairable])])) < 2:
        return None  # alpha needs two values somewhere to measure agreement against chance
    return float(krippendorff.alpha(reliability_data=data[:, pairable], level_of_measurement="nominal"))


def standing(settings: Settings, override: str | None, gold: list[int], sides: list[int]) -> tuple[bool, list[str]]:
    if override == GOOD:
        return True, []
    if override == EXCLUDED:
        return False, ["excluded by an admin"]
    reasons = []
    gold_votes, correct = gold
    # Flagged only when the evidence is clear: even the top of the 95% interval is below the floor
    # (6 of 10 right may be an honest labeler's bad luck; 2 of 9 is not).
    floor = settings.quality_min_gold_accuracy
    if gold_votes >= settings.quality_min_gold_votes and wilson(correct, gold_votes)[1] < floor:
        reasons.append(f"gold accuracy {correct / gold_votes:.0%} of {gold_votes} (95% interval below "
                       f"{floor:.0%})")  # fmt: skip
    decisive, left = sides
    if decisive >= settings.quality_min_bias_votes and abs(left / decisive - 0.5) > settings.quality_max_side_bias:
        reasons.append(f"chose left in {left / decisive:.0%} of decisive votes")
    return not reasons, reasons


def quality(settings: Settings, campaign: str | None = None) -> QualityReport:
    """Every labeler over every vote, or a campaign's labelers over its pairs (standing from every vote).
    UnknownCampaign when no campaign has the name."""
    stats = {s.labeler_id: s for s in labeler_stats(campaign)}
    with session_scope() as session:
        campaign_id = campaign_id_of(session, campaign)
        overrides = dict(session.execute(select(Labeler.id, Labeler.standing_override)).all())
        gold = _gold_tallies(session, campaign_id=campaign_id)
        sides = _side_tallies(session, campaign_id=campaign_id)
        judged = (gold, sides) if campaign_id is None else (_gold_tallies(session), _side_tallies(session))
        speed = _speed_tallies(session, settings.quality_fast_decision_ms, campaign_id)
        reliability = _reliability(session, campaign_id)
    alpha, alpha_without = None, {}
    if reliability is not None:
        coders, data = reliability
        alpha = _alpha(data)
        alpha_without = {labeler: _alpha(np.delete(data, i, axis=0)) for i, labeler in enumerate(coders)}
    rows = [_row(s, standing(settings, overrides.get(i), judged[0][i], judged[1][i]), overrides.get(i), gold[i],
                 sides[i], speed[i], alpha_without.get(i), alpha)
            for i, s in stats.items()]  # fmt: skip
    return QualityReport(rows, alpha)


def _row(s: LabelerStats, verdict, override, gold, sides, speed, alpha_without, alpha_all) -> LabelerQuality:
    good, reasons = verdict
    gold_votes, correct = gold
    return LabelerQuality(
        labeler_id=s.labeler_id, name=s.name, active=s.active, ai=s.ai, votes=s.votes, decisive_votes=sides[0],
        gold_votes=gold_votes, gold_correct=correct, gold_accuracy=correct / gold_votes if gold_votes else None,
        gold_interval=wilson(correct, gold_votes) if gold_votes else None,
        side_bias=sides[1] / sides[0] if sides[0] else None, agreement=s.agreement, agreement_votes=s.agreement_votes,
        alpha_without=alpha_without, alpha_all=alpha_all, fast_share=speed[1] / speed[0] if speed[0] else None,
        tie_share=s.tie_share, skip_share=s.skip_share, override=override, good_standing=good, reasons=reasons,
    )  # fmt: skip


def excluded_labelers(settings: Settings) -> dict[int, list[str]]:
    """Labelers not in good standing, with the reasons: their votes do not train."""
    return {row.labeler_id: row.reasons for row in quality(settings).labelers if not row.good_standing}


def uncounted(session: Session, settings: Settings, labeler_ids: Collection[int]) -> set[int]:
    """Those of these labelers whose votes measure no checkpoint (evaluation and arena pairs are not
    served to them, and their votes on them count in no win rate): AI labelers, and labelers out of
    good standing now, by the same rules and overrides as the quality report."""
    if not labeler_ids:
        return set()
    ids = list(set(labeler_ids))
    people = session.execute(
        select(Labeler.id, Labeler.is_ai, Labeler.standing_override).where(Labeler.id.in_(ids))
    ).all()
    gold = _gold_tallies(session, ids)
    sides = _side_tallies(session, ids)
    return {labeler for labeler, ai, override in people
            if ai or not standing(settings, override, gold[labeler], sides[labeler])[0]}  # fmt: skip


def set_override(labeler_id: int, override: str | None) -> None:
    """good | excluded | None (the rules decide); LookupError for an unknown labeler."""
    with session_scope() as session:
        labeler = session.get(Labeler, labeler_id)
        if labeler is None:
            raise LookupError(f"labeler {labeler_id} does not exist")
        labeler.standing_override = override


def flagged(session: Session, settings: Settings) -> dict[int, list[str]]:
    """Active human labelers the rules put out of good standing with no admin's word on them, and why:
    what an operator is alerted to (an override is an admin's decision already made)."""
    people = session.scalars(select(Labeler.id).where(
        Labeler.active.is_(True), Labeler.is_ai.is_(False), Labeler.standing_override.is_(None))).all()  # fmt: skip
    if not people:
        return {}
    gold, sides = _gold_tallies(session, people), _side_tallies(session, people)
    verdicts = {labeler: standing(settings, None, gold[labeler], sides[labeler]) for labeler in people}
    return {labeler: reasons for labeler, (good, reasons) in verdicts.items() if not good}
