"""Trusting votes, on SQLite: gold pairs the system makes, served among the others; per-labeler
quality that flags a side-clicker and a random clicker but not an honest labeler; excluded labelers'
votes counted, not trained on; an admin's override; and the checkpoints built on a labeler's votes."""

import random

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from cli.main import cli
from core.db.models import Checkpoint, Comparison, Deployment
from core.db.session import session_scope
from core.repo.comparisons import left_is_a, next_for_labeler
from core.repo.preferences import collect_preferences
from core.services import campaigns, labeling, lineage, pool, quality
from core.settings import get_settings
from core.states import Choice, ComparisonKind, GoldAnswer
from tests.conftest import apply_settings
from tests.helpers.data import make_comparisons, make_labeler, serve


def test_gold_pairs_show_the_caption_against_the_least_alike_prompt(sqlite_db, monkeypatch):
    from core.services.prompts import seed_shipped_prompts

    apply_settings(monkeypatch, gold_both_bad_share=0.5, pool_batch=8)
    seed_shipped_prompts()
    batch = pool.plan_gold(get_settings(), rng=random.Random(3))  # both answers among 8 (unseeded: 1 in 128 not)
    assert len(batch.comparisons) == 8
    for pair in batch.comparisons:
        good, damaged = (p.prompt for p in pair.params)
        assert damaged != pair.prompt and pair.params[0].seed == pair.params[1].seed
        shared = set(damaged.split()) & set(pair.prompt.split())
        assert shared <= {"a", "an", "on", "the", "in", "background", "of", "at"}, (pair.prompt, damaged)
        if pair.gold_answer == GoldAnswer.a:
            assert good == pair.prompt
        else:
            assert good != pair.prompt and good != damaged
    assert {p.gold_answer for p in batch.comparisons} == {GoldAnswer.a, GoldAnswer.both_bad}
    pool.record_batch(batch, 1.0)
    with session_scope() as session:
        rows = session.scalars(select(Comparison).where(Comparison.kind == ComparisonKind.gold)).all()
        assert len(rows) == 8 and all(r.gold_answer in ("a", "both_bad") for r in rows)
    assert pool.plan_gold(get_settings()) is None  # the gold stock is full (gold_pool_target 8)


def test_gold_pairs_are_made_even_while_labelers_drain_the_pool(sqlite_db, monkeypatch):
    from core.services.prompts import seed_shipped_prompts

    apply_settings(monkeypatch, gold_pool_target=4, pool_batch=2, pool_target=50)
    seed_shipped_prompts()
    kinds = []
    for _ in range(4):  # the train pool stays far below its target all along
        batch = pool.plan_next(get_settings())
        kinds.append("gold" if batch.comparisons[0].gold_answer else "train")
        pool.record_batch(batch, 1.0)
    assert kinds == ["gold", "train", "train", "train"]  # gold until half its target, then train pairs


def gold(ids: list[int], answer: str = "a") -> None:
    with session_scope() as session:
        session.execute(update(Comparison).where(Comparison.id.in_(ids)).values(kind="gold", gold_answer=answer))


def vote(comparison_id: int, labeler_id: int, choice: Choice, ms: int = 1500) -> None:
    serve(comparison_id, labeler_id)
    labeling.vote(comparison_id, labeler_id, choice, ms, get_settings())


def a_side(comparison_id: int, labeler_id: int) -> Choice:
    with session_scope() as session:
        return Choice.left if left_is_a(session, comparison_id, labeler_id) else Choice.right


def test_gold_pairs_are_served_at_the_rate_and_stay_for_everyone(sqlite_db, monkeypatch):
    apply_settings(monkeypatch, votes_per_comparison=1)
    train, gold_ids = make_comparisons(3), make_comparisons(2, seed=7)
    gold(gold_ids)
    alice, bob = make_labeler("alice")[0], make_labeler("bob")[0]
    with session_scope() as session:
        served = next_for_labeler(session, alice, 60.0, gold_rate=1.0)
    assert served.id == gold_ids[0]  # gold before train pairs when the draw says so
    vote(gold_ids[0], alice, a_side(gold_ids[0], alice))
    with session_scope() as session:
        assert next_for_labeler(session, bob, 60.0, gold_rate=1.0).id == gold_ids[0]  # still there for bob
        assert next_for_labeler(session, alice, 60.0, gold_rate=0.0).id == train[0]  # rate 0: never gold
        session.execute(update(Comparison).where(Comparison.id.in_(train)).values(state="done"))
        # No train pair waits: a labeler polling an empty pool gets no gold pair either.
        assert next_for_labeler(session, alice, 60.0, gold_rate=1.0) is None


def test_quality_flags_a_side_clicker_and_a_random_clicker_but_not_an_honest_labeler(sqlite_db, monkeypatch):
    apply_settings(monkeypatch, votes_per_comparison=10, quality_min_gold_votes=10, quality_min_bias_votes=20)
    gold_ids = make_comparisons(12, seed=1)
    gold(gold_ids[:10])
    gold(gold_ids[10:], "both_bad")
    train = make_comparisons(24, seed=2)
    honest, clicker, noise = (make_labeler(name)[0] for name in ("honest", "clicker", "noise"))
    rng = random.Random(0)
    for i, c in enumerate(gold_ids):
        vote(c, honest, Choice.both_bad if i >= 10 else a_side(c, honest))
        vote(c, clicker, Choice.left)
        vote(c, noise, rng.choice(list(Choice)))
    for i, c in enumerate(train):
        # Half left, half right whichever side A fell on: the gold votes' sides follow the install's
        # random key, so only these keep the honest share of left clicks inside 0.3..0.7 on every key.
        vote(c, honest, Choice.left if i % 2 else Choice.right)
        vote(c, clicker, Choice.left)
        vote(c, noise, rng.choice([Choice.left, Choice.right]))
    report = {r.name: r for r in quality.quality(get_settings()).labelers}
    assert report["honest"].good_standing and report["honest"].gold_accuracy == 1.0
    assert report["honest"].gold_votes == 12 and 0.3 <= report["honest"].side_bias <= 0.7
    assert not report["clicker"].good_standing and report["clicker"].side_bias == 1.0
    assert any("left" in reason for reason in report["clicker"].reasons)
    assert not report["noise"].good_standing and any("gold accuracy" in r for r in report["noise"].reasons)
    assert report["honest"].gold_interval[0] > 0.7

    excluded = quality.excluded_labelers(get_settings())
    assert set(excluded) == {clicker, noise}
    with session_scope() as session:
        used = collect_preferences(session, excluded=frozenset(excluded))
    assert used.counts["votes_excluded_quality"] == 2 * len(train) and set(used.labeler_votes) == {honest}

    quality.set_override(clicker, "good")  # an admin knows better
    assert quality.excluded_labelers(get_settings()).keys() == {noise}
    quality.set_override(honest, "excluded")
    assert honest in quality.excluded_labelers(get_settings())
    with pytest.raises(LookupError):
        quality.set_override(999, "good")


def test_the_checkpoints_built_on_a_labeler_and_where_to_rebuild_from(sqlite_db):
    dave, erin = make_labeler("dave")[0], make_labeler("erin")[0]
    with session_scope() as session:
        def add(parent: int, votes: dict) -> int:
            row = Checkpoint(name=f"c{parent}", kind="full", path=None, parent_id=parent, status="ready",
                             metrics={"labeler_votes": {str(k): v for k, v in votes.items()}})  # fmt: skip
            session.add(row)
            session.flush()
            return row.id

        first = add(1, {erin: 5})
        second = add(first, {dave: 3, erin: 4})  # dave's votes enter here
        third = add(second, {erin: 2})  # built on second's weights
        session.add(Deployment(checkpoint_id=third, promoted_by="test"))
    found = lineage.lineage(dave)
    assert found.trained_on == {second: 3} and found.built_on == [second, third]
    assert found.serving_affected and found.rebuild_from == first
    assert found.rebuilds == [lineage.Rebuild("default", third, first)]
    assert lineage.lineage(erin).rebuild_from == 1  # every checkpoint holds erin's votes: the base

    # Another campaign's serving checkpoint built on dave's votes is named with its own rebuild point.
    hands = campaigns.create("hands", "", open_to_all=True, by="root").id
    with session_scope() as session:
        theirs = add(1, {dave: 2})
        session.get(Checkpoint, theirs).campaign_id = hands
        session.add(Deployment(checkpoint_id=theirs, campaign_id=hands, promoted_by="test"))
    assert lineage.lineage(dave).rebuilds == [lineage.Rebuild("default", third, first),
                                              lineage.Rebuild("hands", theirs, 1)]  # fmt: skip
    shown = CliRunner().invoke(cli, ["labelers", "lineage", str(dave)]).output
    assert "dpoloop rounds start --campaign hands --config '{\"start_from\": 1}'" in shown
    with pytest.raises(LookupError):
        lineage.lineage(999)
