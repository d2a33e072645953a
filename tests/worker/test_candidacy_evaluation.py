"""A candidate's blind evaluation, in-process on the shipped model: while a candidacy is judged the
generate worker renders the candidate and what serves on the eval prompts, same seeds, a batch (one
seed per prompt) at a time as labelers use the pairs up, until the pairs could carry the verdict's
cap; people in good standing get them before train pairs; the candidate never serves."""

import threading

from sqlalchemy import func, select

from core.db.models import Candidacy, Comparison, Evaluation, Generation
from core.db.session import session_scope
from core.repo.checkpoints import active_checkpoint_id
from core.repo.comparisons import next_for_labeler, record_vote
from core.settings import get_settings
from core.states import CandidateState, Choice, ComparisonKind, ComparisonState
from tests.conftest import apply_settings
from tests.helpers.checkpoints import register, trained_checkpoint
from tests.helpers.data import make_labeler
from tests.worker import test_evaluation
from tests.worker.test_evaluation import EVAL_PROMPTS, eval_pairs

any_eval_db = test_evaluation.any_eval_db  # the fixture: the shipped model over SQLite, then Postgres

BATCH_STEPS = [4, 4, 4, 4, EVAL_PROMPTS]  # the candidate's 8 images, what serves' 8 (4 a step), then 8 pairs


def candidate(embedded_model, tmp_path) -> tuple[int, int]:
    """A trained LoRA judging against the base (what serves): (checkpoint id, candidacy id)."""
    lora = register(trained_checkpoint(embedded_model, tmp_path / "lora"), "lora")
    with session_scope() as session:
        row = Candidacy(checkpoint_id=lora, serving_id=1, state=CandidateState.judging)
        session.add(row)
        session.flush()
        return lora, row.id


def steps(server, count: int) -> list[int]:
    """`count` evaluation steps, checking after each that the base still serves."""
    from worker.tasks.evaluation import evaluation_step

    taken = []
    for _ in range(count):
        taken.append(evaluation_step(server))
        with session_scope() as session:
            assert active_checkpoint_id(session) == 1
    return taken


def the_evaluation() -> Evaluation:
    with session_scope() as session:
        evaluation = session.scalars(select(Evaluation)).one()
        made = session.scalar(select(func.count(Comparison.id)).where(Comparison.evaluation_id == evaluation.id))
        assert evaluation.pairs == made  # the row's count is its comparisons'
        session.expunge(evaluation)
        return evaluation


def vote_on(labeler_id: int, count: int) -> None:
    """A person votes on `count` pairs (the measuring ones come first)."""
    with session_scope() as session:
        for _ in range(count):
            served = next_for_labeler(session, labeler_id, 60.0)
            record_vote(session, served.id, labeler_id, Choice.left, None, get_settings().votes_per_comparison)


def end(candidacy_id: int, state: CandidateState) -> None:
    with session_scope() as session:
        session.get(Candidacy, candidacy_id).state = state


def test_a_judging_candidate_is_rendered_in_batches_as_labelers_use_them_up_to_the_cap(
    any_eval_db, tmp_path, embedded_model, monkeypatch
):
    from core.services.evaluations import plan_step

    server = any_eval_db
    lora, candidacy_id = candidate(embedded_model, tmp_path)
    # The first batch, a pool batch's worth of images a step: then nothing, while its pairs are open.
    assert steps(server, 6) == BATCH_STEPS + [0]
    from core.repo.evaluations import batch_requests

    evaluation = the_evaluation()
    assert (evaluation.checkpoint_id, evaluation.baseline_id, evaluation.kind, evaluation.pairs) == (
        lora, 1, "promotion", EVAL_PROMPTS)  # fmt: skip
    first = eval_pairs(evaluation.id)
    with session_scope() as session:
        kinds = set(session.execute(select(Comparison.kind, Comparison.checkpoint_id)).all())
        expected = {(r.params.prompt, r.params.seed) for r in batch_requests(session, get_settings(), lora, 1, 0)}
    assert kinds == {(ComparisonKind.eval, lora)}
    for new, old, state in first:  # the candidate's image against what serves', same prompt and seed
        assert (new.checkpoint_id, old.checkpoint_id, state) == (lora, 1, ComparisonState.ready)
        assert (new.prompt, new.seed, new.params, new.purpose) == (old.prompt, old.seed, old.params, "eval")
    assert {(new.prompt, new.seed) for new, _, _ in first} == expected  # one seed per prompt, the evaluation's

    # A labeler uses one pair up: fewer than a batch is open, so the next batch comes, fresh seeds.
    person, _ = make_labeler("person")
    vote_on(person, 1)
    assert steps(server, 6) == BATCH_STEPS + [0]
    evaluation = the_evaluation()
    assert evaluation.pairs == 2 * EVAL_PROMPTS
    second = [pair for pair in eval_pairs(evaluation.id) if pair[0].id not in {new.id for new, _, _ in first}]
    with session_scope() as session:
        expected = {(r.params.prompt, r.params.seed)
                    for r in batch_requests(session, get_settings(), lora, 1, EVAL_PROMPTS)}  # fmt: skip
    assert {(new.prompt, new.seed) for new, _, _ in second} == expected
    assert {new.seed for new, _, _ in second}.isdisjoint(new.seed for new, _, _ in first)
    assert all((new.seed, new.checkpoint_id, old.checkpoint_id) == (old.seed, lora, 1) for new, old, _ in second)

    # None past the cap: 16 pairs × votes_per_comparison votes could reach verdict_max_votes.
    vote_on(person, EVAL_PROMPTS)  # 7 of the 16 left open: a batch would be due but for the cap
    apply_settings(monkeypatch, verdict_max_votes=2 * EVAL_PROMPTS)
    assert plan_step(get_settings()) is None and steps(server, 1) == [0]
    apply_settings(monkeypatch, verdict_max_votes=2 * EVAL_PROMPTS + 1)
    assert plan_step(get_settings()).candidacy_id == candidacy_id
    apply_settings(monkeypatch, votes_per_comparison=2, verdict_max_votes=4 * EVAL_PROMPTS)  # 2 votes a pair
    assert plan_step(get_settings()) is None
    apply_settings(monkeypatch, votes_per_comparison=1, verdict_max_votes=400)

    # A batch planned while judging is not added once the candidacy has ended; none is planned after.
    steps(server, 4)  # the third batch's images
    planned = plan_step(get_settings())
    assert planned.render is None and planned.candidacy_id == candidacy_id
    end(candidacy_id, CandidateState.rejected)
    from core.services.evaluations import record

    assert record(planned) is None and the_evaluation().pairs == 2 * EVAL_PROMPTS
    assert plan_step(get_settings()) is None and steps(server, 1) == [0]
    with session_scope() as session:  # the base's own images: the evaluation's only, no train pair
        assert session.scalar(select(func.count(Comparison.id)).where(Comparison.kind != ComparisonKind.eval)) == 0


def test_a_candidate_never_serves_and_its_pairs_go_to_people_before_train_pairs(
    any_eval_db, tmp_path, embedded_model, monkeypatch
):
    from core.services import generations, labeling
    from core.services.evaluations import plan_step, record
    from worker.tasks.generate import generate_image
    from worker.tasks.pool import fill_pool_once

    server = any_eval_db
    lora, _ = candidate(embedded_model, tmp_path)
    # Two workers finish the same batch at once, the first (which creates the evaluation) and a later
    # one (added to it): each is added once.
    for batch in (1, 2):
        assert steps(server, 4) == [4, 4, 4, 4]  # the candidate's images first: the server wore it
        planned = plan_step(get_settings())
        assert planned.render is None and plan_step(get_settings()) == planned
        results = race(record, planned)
        assert results.count(None) == 1 and the_evaluation().id in results
        assert the_evaluation().pairs == batch * EVAL_PROMPTS
        if batch == 1:
            vote_on(make_labeler("first")[0], 1)  # fewer than a batch open: the next is due

    # What serves stays the base: a client's generation and the pool's train pairs are the base's.
    apply_settings(monkeypatch, pool_target=2)
    labeler, _ = make_labeler("client")
    with session_scope() as session:
        from core.repo.generations import create_generation
        from core.schemas.generation import GenerationParams

        client = create_generation(session, GenerationParams(prompt="a red circle", num_inference_steps=4),
                                   requested_by=labeler).id  # fmt: skip
    generate_image(client)
    assert generations.load(client).checkpoint_id == 1 and server.checkpoint_id == 1
    while fill_pool_once():
        pass
    with session_scope() as session:
        train = session.scalars(select(Comparison).where(Comparison.kind == ComparisonKind.train)).all()
        assert len(train) == 2 and {c.checkpoint_id for c in train} == {1}
        assert {g.checkpoint_id for c in train for g in (c.generation_a, c.generation_b)} == {1}
        made_by = session.scalars(select(Generation.checkpoint_id).where(Generation.purpose != "eval")).all()
        assert set(made_by) == {1}

    # A person in good standing gets the candidate's pairs before the train pairs, sides hidden; an
    # AI labeler gets train pairs only.
    settings = get_settings()
    robot, _ = make_labeler("ai-scenes", ai=True)
    person, _ = make_labeler("person")
    eval_ids = set(comparison_ids(ComparisonKind.eval))
    train_ids = set(comparison_ids(ComparisonKind.train))
    assert labeling.next_comparison(robot, settings).id in train_ids
    served, handles = [], []
    for _ in range(3):  # the pair on screen asked away by its handle, as the UI does
        pair = labeling.next_comparison(person, settings, exclude=handles)
        served.append(pair.id)
        handles.append(pair.handle)
    assert set(served) <= eval_ids


def comparison_ids(kind: ComparisonKind) -> list[int]:
    with session_scope() as session:
        return list(session.scalars(select(Comparison.id).where(Comparison.kind == kind)))


def race(work, *args) -> list:
    """work(*args) in two threads released together; their results."""
    barrier, results = threading.Barrier(2), [None, None]

    def run(slot: int) -> None:
        barrier.wait()
        results[slot] = work(*args)

    threads = [threading.Thread(target=run, args=(slot,)) for slot in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


HANDS_EVAL = ["a red circle on the left, white background", "a blue square on the right, black background"]


def test_another_campaigns_candidate_is_rendered_on_its_evaluation_prompts_for_its_labelers(
    any_eval_db, tmp_path, embedded_model
):
    from core.db.models import Checkpoint
    from core.services import campaigns, labeling, prompts
    from core.states import PromptSource

    server = any_eval_db
    campaigns.update("default", open_to_all=False)
    hands = campaigns.create("hands", "Which hands look right?", open_to_all=False, by="root").id
    prompts.add_prompts(HANDS_EVAL, PromptSource.admin, for_eval=True, campaign="hands")
    lora, candidacy_id = candidate(embedded_model, tmp_path)
    with session_scope() as session:  # hands' lineage: its candidate, judged against what serves hands
        session.get(Checkpoint, lora).campaign_id = hands

    # One batch: one pair per hands evaluation prompt (not default's 8), the candidate's images, then the base's.
    assert steps(server, 4) == [2, 2, 2, 0]
    evaluation = the_evaluation()
    assert (evaluation.checkpoint_id, evaluation.baseline_id, evaluation.pairs) == (lora, 1, len(HANDS_EVAL))
    with session_scope() as session:
        rows = session.execute(select(Comparison.prompt, Comparison.campaign_id, Comparison.kind)).all()
    assert sorted(rows) == sorted((text, hands, ComparisonKind.eval) for text in HANDS_EVAL)
    for new, old, _ in eval_pairs(evaluation.id):
        assert (new.checkpoint_id, old.checkpoint_id, new.seed) == (lora, 1, old.seed)

    # Its pairs go to hands' labelers; default's get none of them.
    settings = get_settings()
    ours, theirs = make_labeler("ours")[0], make_labeler("theirs")[0]
    campaigns.assign("default", ours, 1.0, by="root")
    campaigns.assign("hands", theirs, 1.0, by="root")
    assert labeling.next_comparison(ours, settings) is None
    shown = labeling.next_comparison(theirs, settings)
    assert (shown.campaign, shown.prompt in HANDS_EVAL) == ("hands", True)
    with session_scope() as session:
        assert session.get(Candidacy, candidacy_id).state == CandidateState.judging
