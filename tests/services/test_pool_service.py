from core.services import pool
from core.services.pool import PoolBatch
from core.states import GenerationStatus
from tests.conftest import apply_settings


def test_an_empty_pool_gets_one_pair_first_then_full_batches(sqlite_db, monkeypatch):
    from core.services import generations, labeling, prompts
    from core.states import PromptSource

    apply_settings(monkeypatch, pool_target=5, pool_batch=3)
    from core.settings import get_settings

    settings = get_settings()
    prompts.add_prompts(["a red circle", "a blue square"], PromptSource.admin)
    first = pool.plan_batch(settings)
    assert isinstance(first, PoolBatch) and len(first.comparisons) == 1 and first.checkpoint.id == 1
    a, b = first.comparisons[0].params
    assert a.prompt == b.prompt and a.seed != b.seed  # one prompt, two seeds
    assert all(generations.load(g.id).status == GenerationStatus.running for g in first.generations)
    assert pool.record_batch(first, per_image_ms=5.0) == 1
    assert all(generations.load(g.id).status == GenerationStatus.done for g in first.generations)
    second = pool.plan_batch(settings)
    assert len(second.comparisons) == 3  # min(target - ready, batch)
    assert {p.prompt for p in second.comparisons} >= {"a blue square"}  # least-used prompts first
    pool.record_batch(second, per_image_ms=5.0)
    assert len(pool.plan_batch(settings).comparisons) == 1  # 4 ready of 5
    labeler = make_labeler_id()
    assert labeling.next_comparison(labeler, settings) is not None


def test_a_full_pool_plans_nothing_and_no_prompts_plan_an_empty_batch(sqlite_db, monkeypatch):
    apply_settings(monkeypatch, pool_target=0)
    from core.settings import get_settings

    assert pool.plan_batch(get_settings()) is None
    apply_settings(monkeypatch, pool_target=4)
    assert pool.plan_batch(get_settings()).comparisons == []


def make_labeler_id() -> int:
    from tests.helpers.data import make_labeler

    return make_labeler("alice")[0]
