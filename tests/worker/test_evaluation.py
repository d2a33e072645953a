"""Human evaluation of promotions, in-process on the shipped model and SQLite:
after a promotion the pool task pairs the new checkpoint's images with the previous one's on the
fixed evaluation prompts, same seeds (each evaluation its own, both sides rendered afresh); labelers
see those first; votes give the new one a win rate."""

import pytest
from sqlalchemy import func, select

from core.db.models import Comparison, Evaluation, Generation
from core.db.session import session_scope
from core.repo.checkpoints import promote
from core.repo.comparisons import left_is_a, next_for_labeler, record_vote
from core.repo.evaluations import describe, evaluation_tallies, latest_evaluations
from core.states import Choice, ComparisonState
from tests.conftest import apply_settings
from tests.helpers.checkpoints import register, trained_checkpoint
from tests.helpers.data import make_comparisons, make_labeler
from tests.helpers.loop import fresh_model_server

EVAL_PROMPTS = 8  # app/data/eval_prompts_scenes.txt


def model_on(database_url: str, monkeypatch, tmp_path, embedded_model):
    """The shipped model's server over a migrated database with the shipped evaluation prompts."""
    from core.db.migrate import upgrade
    from core.repo.prompts import seed_shipped_prompts

    apply_settings(monkeypatch, database_url=database_url, data_dir=tmp_path / "data", base_model=embedded_model,
                   pool_target=0, pool_batch=2, default_steps=4, eval_seeds_per_prompt=1, gold_rate=0)  # fmt: skip
    upgrade()
    with session_scope() as session:
        seed_shipped_prompts(session)
    return fresh_model_server(monkeypatch)


@pytest.fixture
def eval_db(monkeypatch, tmp_path, embedded_model):
    return model_on(f"sqlite:///{tmp_path / 'db.sqlite3'}", monkeypatch, tmp_path, embedded_model)


@pytest.fixture(params=["sqlite", "postgres"])
def any_eval_db(request, monkeypatch, tmp_path, embedded_model):
    """eval_db, or the same on a Postgres database of its own (images are found again by seed in SQL)."""
    sqlite = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    url = sqlite if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    return model_on(url, monkeypatch, tmp_path, embedded_model)


def promote_now(checkpoint_id: int) -> None:
    with session_scope() as session:
        promote(session, checkpoint_id, by="test")


def eval_pairs(evaluation_id: int) -> list[tuple[Generation, Generation, ComparisonState]]:
    with session_scope() as session:
        rows = session.scalars(select(Comparison).where(Comparison.evaluation_id == evaluation_id)).all()
        pairs = [(c.generation_a, c.generation_b, c.state) for c in rows]
        session.expunge_all()
        return pairs


def test_a_promotion_is_measured_by_labelers_against_the_checkpoint_it_replaced(eval_db, tmp_path, embedded_model):
    from core.services.evaluations import due_evaluation_written
    from worker.tasks.evaluation import evaluation_step, make_due_evaluation
    from worker.tasks.pool import fill_pool

    assert make_due_evaluation(eval_db) == 0  # the base still serves: nothing to compare with
    lora = register(trained_checkpoint(embedded_model, tmp_path / "lora"), "lora")
    promote_now(lora)
    # A step at a time, each no bigger than a pool batch (4 images): the new checkpoint's 8 images,
    # the base's 8, then the evaluation's 8 pairs; then nothing is due.
    assert [evaluation_step(eval_db) for _ in range(6)] == [4, 4, 4, 4, EVAL_PROMPTS, 0]
    assert make_due_evaluation(eval_db) == 0  # once only

    with session_scope() as session:
        evaluation = session.scalars(select(Evaluation)).one()
        assert (evaluation.checkpoint_id, evaluation.baseline_id, evaluation.pairs) == (lora, 1, EVAL_PROMPTS)
        first_id = evaluation.id
    pairs = eval_pairs(first_id)
    for new, old, state in pairs:  # same prompt and seed; only the weights differ
        assert (new.checkpoint_id, old.checkpoint_id, state) == (lora, 1, ComparisonState.ready)
        assert (new.prompt, new.seed, new.params) == (old.prompt, old.seed, old.params)
        assert new.purpose == old.purpose == "eval"
    assert len({new.prompt for new, _, _ in pairs}) == EVAL_PROMPTS

    # A labeler who picks the new checkpoint's image on 5 pairs and the old one's on the rest, whatever
    # side each is on: the tally must credit the right checkpoint.
    train_ids = make_comparisons(3, checkpoint_id=lora)
    labeler_id, _ = make_labeler("judge")
    served_ids = []
    with session_scope() as session:
        while (served := next_for_labeler(session, labeler_id, 60.0)) is not None:
            new_left = left_is_a(session, served.id, labeler_id)
            choice = Choice.left if new_left == (len(served_ids) < 5) else Choice.right
            served_ids.append(served.id)
            record_vote(session, served.id, labeler_id, choice, None, 1)
    assert served_ids[EVAL_PROMPTS:] == train_ids  # eval pairs first, then the train pool
    tally = tally_of(first_id)
    assert (tally.wins, tally.losses, tally.ties) == (5, EVAL_PROMPTS - 5, 0)
    assert tally.rate == 5 / EVAL_PROMPTS

    # Rolling back to the base is a promotion too: measured against the LoRA, both rendered afresh.
    promote_now(1)
    with session_scope() as session:
        base_images = session.scalar(select(func.count(Generation.id)).where(Generation.checkpoint_id == 1))
    for _ in range(6):  # the pool task takes the steps, as many as its deadline allows (no train pairs)
        assert fill_pool() == 0
        if due_evaluation_written():
            break
    with session_scope() as session:
        made = session.scalar(select(func.count(Generation.id)).where(Generation.checkpoint_id == 1))
        assert made == base_images + EVAL_PROMPTS
        second = session.scalars(select(Evaluation).order_by(Evaluation.id.desc())).first()
        assert (second.checkpoint_id, second.baseline_id) == (1, lora)
        latest = latest_evaluations(session, None, ())
        assert set(latest) == {1, lora} and latest[lora][0].id == first_id
        assert describe(*latest[1]).startswith(f"humans: no votes yet vs {lora}; judge scenes ")  # the pool judged
        assert describe(*latest[lora]).startswith(f"humans {5 / EVAL_PROMPTS:.0%} (")
    assert {new.checkpoint_id for new, _, _ in eval_pairs(second.id)} == {1}
    first_images = {g.id for pair in pairs for g in pair[:2]}
    assert first_images.isdisjoint(g.id for pair in eval_pairs(second.id) for g in pair[:2])


def test_evaluations_that_share_a_checkpoint_share_no_image_and_no_seed(any_eval_db, tmp_path, embedded_model):
    """A checkpoint judged twice (A against the base, then B against A) is rendered afresh for each, with
    that evaluation's own seeds: a labeler who remembers an image, or its media name, from the first
    evaluation learns nothing about the sides of the second."""
    from core.repo.evaluations import evaluation_requests
    from core.settings import get_settings
    from worker.tasks.evaluation import make_due_evaluation

    weights = trained_checkpoint(embedded_model, tmp_path / "lora")
    a, b = register(weights, "lora"), register(weights, "lora")  # two checkpoints: only their ids matter here
    promote_now(a)
    assert make_due_evaluation(any_eval_db) == EVAL_PROMPTS
    promote_now(b)
    assert make_due_evaluation(any_eval_db) == EVAL_PROMPTS
    with session_scope() as session:
        first, second = session.scalars(select(Evaluation).order_by(Evaluation.id)).all()
        session.expunge_all()
    assert [(e.checkpoint_id, e.baseline_id) for e in (first, second)] == [(a, 1), (b, a)]

    a_first = [new for new, _, _ in eval_pairs(first.id)]  # A's side, as the new checkpoint
    a_second = [old for _, old, _ in eval_pairs(second.id)]  # A's side, as the one replaced
    assert {g.checkpoint_id for g in a_first + a_second} == {a}
    assert {g.id for g in a_first}.isdisjoint(g.id for g in a_second)
    assert {g.image_path for g in a_first}.isdisjoint(g.image_path for g in a_second)  # media names
    assert {g.seed for g in a_first}.isdisjoint(g.seed for g in a_second)
    media = get_settings().media_dir
    assert {(media / g.image_path).read_bytes() for g in a_first}.isdisjoint(
        (media / g.image_path).read_bytes() for g in a_second)  # fmt: skip

    # Within one evaluation a pair is still same-seed, and its seeds are that evaluation's, drawn
    # again from the install's secret and the evaluation whenever asked.
    for evaluation in (first, second):
        pairs = eval_pairs(evaluation.id)
        assert all(new.seed == old.seed for new, old, _ in pairs)
        with session_scope() as session:
            expected = evaluation_requests(session, get_settings(), evaluation.checkpoint_id, evaluation.baseline_id)
        assert sorted(new.seed for new, _, _ in pairs) == sorted(r.params.seed for r in expected)


def evaluation_ids() -> list[int]:
    with session_scope() as session:
        return list(session.scalars(select(Evaluation.id).order_by(Evaluation.id)))


def tally_of(evaluation_id: int):
    with session_scope() as session:
        return evaluation_tallies(session, [evaluation_id], ())[evaluation_id]


def test_an_arena_match_compares_two_checkpoints_whatever_serves(eval_db, tmp_path, embedded_model):
    from core.repo.evaluations import evaluation_between
    from core.services.arena import MatchRefused, matches, request_match
    from worker.tasks.evaluation import evaluation_step

    lora = register(trained_checkpoint(embedded_model, tmp_path / "lora"), "lora")
    match = request_match(lora, 1, by="admin")  # the base serves; the LoRA never did
    for a, b in ((lora, 1), (1, lora)):  # one match of a pair at a time, either way round
        with pytest.raises(MatchRefused, match="already being rendered"):
            request_match(a, b, by="admin")
    with pytest.raises(MatchRefused, match="itself"):
        request_match(lora, lora, by="admin")
    with pytest.raises(LookupError):
        request_match(lora, 999, by="admin")

    # Both sides render the evaluation set a pool batch at a time, then the pairs are written.
    assert [evaluation_step(eval_db) for _ in range(6)] == [4, 4, 4, 4, EVAL_PROMPTS, 0]
    (done,) = matches()
    assert (done.id, done.state, done.error) == (match.id, "ready", None) and done.finished_at is not None
    with pytest.raises(MatchRefused, match="already have an evaluation"):
        request_match(1, lora, by="admin")
    pairs = eval_pairs(done.evaluation_id)
    assert len(pairs) == EVAL_PROMPTS
    for a_image, b_image, _ in pairs:
        assert (a_image.checkpoint_id, b_image.checkpoint_id) == (lora, 1)
        assert (a_image.prompt, a_image.seed, a_image.params) == (b_image.prompt, b_image.seed, b_image.params)

    # Served before train pairs though the LoRA does not serve; never training data.
    train_ids = make_comparisons(2, checkpoint_id=1)
    labeler_id, _ = make_labeler("judge")
    with session_scope() as session:
        served = []
        while (pair := next_for_labeler(session, labeler_id, 60.0)) is not None:
            served.append(pair.id)
            choice = Choice.left if left_is_a(session, pair.id, labeler_id) else Choice.right  # always the LoRA
            record_vote(session, pair.id, labeler_id, choice, None, 2)
        kinds = dict(session.execute(select(Comparison.id, Comparison.kind)).all())
    assert [kinds[i] for i in served] == ["match"] * EVAL_PROMPTS + ["train"] * 2 and served[-2:] == train_ids
    assert tally_of(done.evaluation_id).wins == EVAL_PROMPTS

    # A promotion retires other checkpoints' pairs, not a match's (they still wait for a second vote).
    promote_now(lora)
    with session_scope() as session:
        states = {c.kind: c.state for c in session.scalars(select(Comparison))}
        assert states == {"match": ComparisonState.ready, "train": ComparisonState.retired}
        # That match already measured the LoRA against the base: no second evaluation of the pair.
        assert evaluation_between(session, lora, 1) == done.evaluation_id
        assert latest_evaluations(session, None, ())[lora][0].id == done.evaluation_id
    assert evaluation_step(eval_db) == 0


def test_a_match_of_a_checkpoint_that_cannot_load_fails_with_the_reason(eval_db, tmp_path, embedded_model):
    from core.services.arena import matches, request_match
    from worker.tasks.evaluation import evaluation_step

    lora = register(trained_checkpoint(embedded_model, tmp_path / "lora"), "lora")
    request_match(1, lora, by="admin")
    (tmp_path / "lora" / "pytorch_lora_weights.safetensors").unlink()
    assert evaluation_step(eval_db) == 0
    (failed,) = matches()
    assert failed.state == "failed" and "cannot be loaded" in failed.error and failed.evaluation_id is None


def test_the_image_grid_renders_its_own_images_a_chunk_per_task(eval_db, tmp_path, embedded_model):
    from core.queue import RENDER_GRID, sending_to
    from core.services.grid import grid, request_grid
    from core.settings import get_settings
    from worker.tasks.evaluation import evaluation_step
    from worker.tasks.grid import render_grid

    settings = get_settings()
    lora = register(trained_checkpoint(embedded_model, tmp_path / "lora"), "lora")  # its parent is the base
    empty = grid(settings, lora)
    columns = [(c.checkpoint_id, c.role, c.problem) for c in empty.columns]
    assert columns == [(1, "parent", None), (lora, "checkpoint", None)]
    assert (len(empty.rows), empty.made, empty.total) == (EVAL_PROMPTS, 0, 2 * EVAL_PROMPTS)
    sent = []
    with sending_to(lambda name, args: sent.append((name, args))):
        request_grid(settings, lora)
        assert sent == [(RENDER_GRID, [[1, lora], 1])]  # the columns, and whose evaluation prompts
        rendered = [render_grid(*sent[-1][1]) for _ in range(5)]  # each chunk queues the next
    assert rendered == [4, 4, 4, 4, 0] and len(sent) == 5
    full = grid(settings, lora)
    assert full.made == full.total and full.missing_for() == []
    row = full.rows[0]
    assert row.images[0] != row.images[1] and all((settings.media_dir / i).is_file() for i in row.images)

    # A promotion's evaluation renders its own images: a grid's (admins see them) never reach labelers.
    promote_now(lora)
    assert [evaluation_step(eval_db) for _ in range(5)] == [4, 4, 4, 4, EVAL_PROMPTS]
    (evaluation,) = evaluation_ids()
    shown = {g.image_path for pair in eval_pairs(evaluation) for g in pair[:2]}
    assert shown.isdisjoint(i for row in full.rows for i in row.images)
    with pytest.raises(LookupError):
        grid(settings, 999)


def test_the_judge_rules_on_each_evaluation_beside_the_humans(eval_db, tmp_path, embedded_model):
    from core.services.arena import matches, request_match
    from core.settings import get_settings
    from worker.tasks.evaluation import evaluation_step, judge_step

    lora = register(trained_checkpoint(embedded_model, tmp_path / "lora"), "lora")
    request_match(lora, 1, by="admin")
    while matches()[0].state == "rendering":
        evaluation_step(eval_db)
    assert judge_step(get_settings()) == EVAL_PROMPTS  # the scene scorer, on the match's 8 pairs
    assert judge_step(get_settings()) == 0  # once per evaluation
    with session_scope() as session:
        evaluation = session.scalars(select(Evaluation)).one()
        verdict = evaluation.judge_verdict
        assert verdict["judge"] == "scenes" and verdict["wins"] + verdict["losses"] + verdict["ties"] == EVAL_PROMPTS
        assert verdict["win_rate"] == (verdict["wins"] + verdict["ties"] / 2) / EVAL_PROMPTS
        from core.repo.evaluations import EvaluationTally

        line = describe(evaluation, EvaluationTally())  # no human vote yet
        assert line.endswith(f"judge scenes {verdict['win_rate']:.0%} of 8")
