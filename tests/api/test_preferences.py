"""Votes aggregate into Diffusion-DPO pairs by majority; everything else is counted."""

from core.db.models import Comparison
from core.db.session import session_scope
from core.preferences import is_held_out_pair
from core.repo.comparisons import record_vote
from core.repo.preferences import collect_preferences
from core.states import Choice
from tests.helpers.data import make_comparisons, make_labeler, sees_a_on_the_left, serve


def vote(comparison_id, labeler_id, choice):
    serve(comparison_id, labeler_id)
    with session_scope() as session:
        record_vote(session, comparison_id, labeler_id, choice, None, votes_per_comparison=3)


def test_majority_ties_and_splits(pg_settings):
    c1, c2, c3, c4 = make_comparisons(4)
    ann, ben, cat = (make_labeler(n)[0] for n in ("ann", "ben", "cat"))

    def choice_for(cid, labeler, want_a):
        # Pick the side on which this labeler sees generation A (or B).
        return Choice.left if sees_a_on_the_left(cid, labeler) == want_a else Choice.right

    for labeler in (ann, ben):  # c1: A wins 2-1
        vote(c1, labeler, choice_for(c1, labeler, True))
    vote(c1, cat, choice_for(c1, cat, False))
    vote(c2, ann, choice_for(c2, ann, True))  # c2: split 1-1
    vote(c2, ben, choice_for(c2, ben, False))
    vote(c3, ann, Choice.tie)  # c3: no decisive vote
    vote(c3, ben, Choice.both_bad)
    vote(c4, ann, choice_for(c4, ann, False))  # c4: B wins 1-0 (a skip does not count)
    vote(c4, ben, Choice.skip)

    with session_scope() as session:
        prefs = collect_preferences(session)
    by_id = {p.comparison_id: p for p in prefs.pairs}
    assert set(by_id) == {c1, c4}
    assert (by_id[c1].votes_for, by_id[c1].votes_against) == (2, 1)
    assert by_id[c1].winner_latents != by_id[c1].loser_latents
    assert prefs.counts["comparisons"] == 4 and prefs.counts["pairs"] == 2
    assert prefs.counts["comparisons_split"] == 1 and prefs.counts["comparisons_without_decisive_votes"] == 1
    assert prefs.counts["votes_tie"] == 1 and prefs.counts["votes_both_bad"] == 1 and prefs.counts["votes_skip"] == 1
    assert prefs.counts["votes"] == 9


def test_winner_is_the_generation_the_majority_chose(pg_settings):
    (cid,) = make_comparisons(1)
    ann = make_labeler("ann")[0]
    with session_scope() as session:
        comparison = session.get(Comparison, cid)
        a_latents = comparison.generation_a.latents_path
    vote(cid, ann, Choice.left if sees_a_on_the_left(cid, ann) else Choice.right)  # ann chose A
    with session_scope() as session:
        assert collect_preferences(session).pairs[0].winner_latents == a_latents


def test_snapshot_ignores_later_votes(pg_settings):
    c1, c2 = make_comparisons(2)
    ann = make_labeler("ann")[0]
    vote(c1, ann, Choice.left)
    with session_scope() as session:
        from sqlalchemy import func, select

        from core.db.models import Vote

        snapshot = session.scalar(select(func.max(Vote.id)))
    vote(c2, ann, Choice.right)
    with session_scope() as session:
        assert [p.comparison_id for p in collect_preferences(session, snapshot).pairs] == [c1]


def test_held_out_split_is_stable_and_near_the_share():
    held = [i for i in range(2000) if is_held_out_pair(i, 0.1)]
    assert 150 < len(held) < 250
    assert held == [i for i in range(2000) if is_held_out_pair(i, 0.1)]
