"""Pair selection (DPOLOOP_PAIRING): random shows the two seeds rendered; diverse renders K candidates
in the batch and shows the two farthest apart (in the judge's image embedding where it has one, else
on the latents); uncertain shows, of the far-apart candidate pairs, the one whose implicit rewards
under the served checkpoint differ least; unshown candidates are reclaimed."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import select, update

from core.db.models import Comparison, Generation
from core.db.session import session_scope
from core.repo.checkpoints import promote
from core.schemas.rounds import DPOConfig
from core.services import retention
from core.settings import get_settings
from core.states import ComparisonKind, GenerationPurpose
from tests.conftest import apply_settings
from tests.helpers.checkpoints import register, trained_checkpoint
from tests.helpers.loop import fresh_model_server, generate_pool
from tests.helpers.pairs import separable_pairs
from tests.helpers.tiny_pipelines import build_tiny_sd
from worker.pairing import farthest_pair, most_uncertain_pair, shown_pair


def test_farthest_pair_is_the_pair_at_the_largest_distance():
    points = [np.array([0.0, 0.0]), np.array([1.0, 0.0]), np.array([5.0, 5.0]), np.array([-2.0, -1.0])]
    assert farthest_pair(points) == (2, 3)
    assert farthest_pair([np.zeros((4, 2, 2)), np.ones((4, 2, 2))]) == (0, 1)
    same = [np.zeros(3)] * 3
    assert farthest_pair(same) == (0, 1)  # all alike: the first two


def test_random_pairing_shows_the_two_it_rendered():
    assert shown_pair("random", [np.zeros(2), np.ones(2), np.full(2, 9.0)]) == (0, 1)
    assert shown_pair(None, [np.zeros(2), np.ones(2)]) == (0, 1)


def test_uncertain_picks_the_far_pair_nearest_even_odds_and_never_a_near_duplicate():
    latents = [np.array([0.0]), np.array([0.1]), np.array([5.0]), np.array([10.0])]
    rewards = np.array([1.0, 1.0, 3.0, 1.2])
    # (0, 1) have equal rewards but are near-duplicates; of the far half, (0, 3) and (1, 3) differ by
    # 0.2 in reward and (0, 3) lies farther apart.
    assert most_uncertain_pair(latents, rewards) == (0, 3)
    assert shown_pair("uncertain", latents, rewards) == (0, 3)
    assert shown_pair("uncertain", latents, None) == farthest_pair(latents)  # no reward yet: diverse


@pytest.mark.parametrize("method", ["lora", "full"])
def test_implicit_rewards_are_zero_on_the_base_and_rank_what_a_round_learned(tmp_path, method):
    from worker.dpo.implicit_reward import implicit_rewards
    from worker.dpo.trainer import DPOTrainer
    from worker.generation.generator import Generator

    model = build_tiny_sd(tmp_path / "sd")
    trained = Generator(model)
    config = DPOConfig(method=method, beta=500, learning_rate=1e-3 if method == "lora" else 1e-4, steps=40,
                       batch_pairs=8, warmup_steps=0)  # fmt: skip
    trainer = DPOTrainer(trained.pipe, trained.family, config)
    trainer.fit(separable_pairs(64), [])
    trainer.save(tmp_path / "checkpoint")

    served = Generator(model)
    held_out = separable_pairs(16, seed=1)
    prompts = [p.prompt for p in held_out] * 2
    latents = [p.winner for p in held_out] + [p.loser for p in held_out]
    assert not implicit_rewards(served, prompts, latents).any()  # the base against itself
    if method == "lora":
        served.load_lora(tmp_path / "checkpoint")
    else:
        served.load_denoiser(tmp_path / "checkpoint")
    before = _sample(served)
    rewards = implicit_rewards(served, prompts, latents)
    assert np.array_equal(rewards, implicit_rewards(served, prompts, latents))  # fixed draws
    winners, losers = rewards[:16], rewards[16:]
    assert (winners > losers).mean() >= 0.75, (winners, losers)  # held-out pairs ranked as the votes taught
    assert np.array_equal(before, _sample(served))  # the checkpoint is worn again afterwards


def _sample(generator) -> np.ndarray:
    import torch

    return generator.pipe(prompt=["x"], num_inference_steps=2, output_type="latent",
                          generator=torch.Generator().manual_seed(0)).images.numpy()  # fmt: skip


def test_uncertain_pool_pairs_diverse_on_the_base_then_by_the_served_checkpoint(loop_db, monkeypatch, tmp_path):
    from worker.dpo.implicit_reward import implicit_rewards

    settings = get_settings()
    apply_settings(monkeypatch, pairing="uncertain", pairing_candidates=4, pool_target=3, pool_batch=3)
    generate_pool(3)
    with session_scope() as session:
        assert {c.pairing for c in session.scalars(select(Comparison))} == {"diverse"}  # no learned reward yet
    lora = register(trained_checkpoint(settings.base_model, tmp_path / "lora", steps=4), "lora")
    with session_scope() as session:
        promote(session, lora, by="test")
    server = fresh_model_server(monkeypatch)
    generate_pool(3)
    with session_scope() as session:
        comparisons = session.scalars(select(Comparison).where(Comparison.checkpoint_id == lora)).all()
        assert len(comparisons) == 3 and {c.pairing for c in comparisons} == {"uncertain"}
        for comparison in comparisons:
            candidates = session.scalars(select(Generation).where(
                Generation.prompt_id == comparison.prompt_id, Generation.checkpoint_id == lora,
                Generation.purpose == GenerationPurpose.pool).order_by(Generation.id)).all()  # fmt: skip
            latents = [_latents(g) for g in candidates]
            prompts = [comparison.prompt] * len(latents)
            rewards, _ = server.wearing(server.current, lambda g: implicit_rewards(g, prompts, latents))  # noqa: B023
            i, j = most_uncertain_pair(latents, rewards)
            shown = {comparison.generation_a_id, comparison.generation_b_id}
            if shown != {candidates[i].id, candidates[j].id}:  # a near-tie in reward may fall either way
                a, b = (next(k for k, g in enumerate(candidates) if g.id == s) for s in sorted(shown))
                assert abs(abs(rewards[a] - rewards[b]) - abs(rewards[i] - rewards[j])) < 1e-3 * np.ptp(rewards)
                distance = [[float(((x - y) ** 2).sum()) for y in latents] for x in latents]
                floor = np.median([distance[m][n] for m in range(4) for n in range(m + 1, 4)])
                assert distance[a][b] >= floor * (1 - 1e-6)  # still one of the far half


def _latents(generation: Generation) -> np.ndarray:
    return np.load(get_settings().latents_dir / generation.latents_path)


def test_diverse_pool_shows_the_farthest_of_four_and_retention_reclaims_the_rest(loop_db, monkeypatch):
    apply_settings(monkeypatch, pairing="diverse", pairing_candidates=4, pool_target=4, pool_batch=4)
    generate_pool(4)
    with session_scope() as session:
        comparisons = session.scalars(select(Comparison).where(Comparison.kind == ComparisonKind.train)).all()
        assert len(comparisons) == 4 and {c.pairing for c in comparisons} == {"diverse"}
        pool_rows = session.scalars(select(Generation).where(Generation.purpose == GenerationPurpose.pool)).all()
        assert len(pool_rows) == 16  # four candidates rendered per pair
        by_prompt: dict[int, list[Generation]] = {}
        for row in pool_rows:
            by_prompt.setdefault(row.prompt_id, []).append(row)
        shown = set()
        for comparison in comparisons:
            candidates = sorted(by_prompt[comparison.prompt_id], key=lambda g: g.id)
            assert len(candidates) == 4
            i, j = farthest_pair([_latents(g) for g in candidates])
            assert {comparison.generation_a_id, comparison.generation_b_id} == {candidates[i].id, candidates[j].id}
            shown |= {comparison.generation_a_id, comparison.generation_b_id}
        unshown = [g.id for g in pool_rows if g.id not in shown]
        unshown_files = [get_settings().media_dir / g.image_path for g in pool_rows if g.id not in shown]
        assert len(unshown) == 8 and all(p.exists() for p in unshown_files)

    settings = get_settings()
    assert retention.apply(settings).unshown_candidates == 0  # younger than DPOLOOP_RETENTION_CANDIDATE_HOURS
    with session_scope() as session:
        session.execute(update(Generation).where(Generation.purpose == GenerationPurpose.pool)
                        .values(finished_at=datetime.now(UTC) - timedelta(hours=25)))  # fmt: skip
    assert retention.apply(settings).unshown_candidates == 8
    assert not any(p.exists() for p in unshown_files)
    with session_scope() as session:
        for comparison in session.scalars(select(Comparison)):  # the shown pairs keep their files
            for generation in (comparison.generation_a, comparison.generation_b):
                assert (settings.media_dir / generation.image_path).exists()


@pytest.mark.parametrize("judge, distance, measured_on", [("clip", "judge", "embedding"),
                                                          ("clip", "latent", "latents"),
                                                          ("unloadable", "judge", "latents")])  # fmt: skip
def test_diverse_pool_measures_distance_in_the_judges_embedding_where_it_has_one(
    loop_db, monkeypatch, tiny_clip, tmp_path, judge, distance, measured_on
):
    from PIL import Image

    from worker.judges.registry import load_judge

    spec = f"clip:{tiny_clip}" if judge == "clip" else f"clip:{tmp_path}"  # an empty directory cannot load
    apply_settings(monkeypatch, pairing="diverse", pairing_candidates=4, pairing_distance=distance, gate_judge=spec,
                   pool_target=4, pool_batch=4)  # fmt: skip
    generate_pool(4)  # a judge that cannot load is reported once, and the pool fills on latents
    clip, settings = load_judge(f"clip:{tiny_clip}"), get_settings()
    chosen_differently = 0
    with session_scope() as session:
        comparisons = session.scalars(select(Comparison).where(Comparison.kind == ComparisonKind.train)).all()
        assert len(comparisons) == 4
        for comparison in comparisons:
            candidates = sorted(session.scalars(select(Generation).where(
                Generation.prompt_id == comparison.prompt_id, Generation.purpose == GenerationPurpose.pool)),
                key=lambda g: g.id)  # fmt: skip
            pixels = [Image.open(settings.media_dir / g.image_path).convert("RGB") for g in candidates]
            by_embedding = farthest_pair(list(clip.embed(pixels)))
            by_latents = farthest_pair([_latents(g) for g in candidates])
            i, j = by_embedding if measured_on == "embedding" else by_latents
            assert {comparison.generation_a_id, comparison.generation_b_id} == {candidates[i].id, candidates[j].id}
            chosen_differently += by_embedding != by_latents
    print(f"{chosen_differently} of 4 pairs differ between the two distances")


def _two_prompts_pooled_and_voted(monkeypatch) -> None:
    """Two active prompts, a diverse pool with reuse, one pair of each rendered (4 candidates) and voted."""
    from core.db.models import Prompt
    from core.services.labelers import create_labeler
    from tests.helpers.loop import label_pool

    apply_settings(monkeypatch, pairing="diverse", pairing_candidates=4, pairing_reuse=True, pool_target=2,
                   pool_batch=2)  # fmt: skip
    with session_scope() as session:
        keep = session.scalars(select(Prompt.id).order_by(Prompt.id).limit(2)).all()
        session.execute(update(Prompt).where(Prompt.id.not_in(keep)).values(active=False))
    generate_pool(2)  # one pair per prompt, four renders each
    labeler, _ = create_labeler("votes")
    assert sum(label_pool(labeler.id, "larger", 2).values()) == 2


def test_a_spare_is_claimed_by_one_plan_until_its_pair_is_recorded_or_the_claim_lapses(loop_db, monkeypatch):
    from core.repo.generations import claim_spares, release_spares

    _two_prompts_pooled_and_voted(monkeypatch)
    with session_scope() as session:
        prompt_id = session.scalars(select(Comparison.prompt_id).order_by(Comparison.id)).first()
    now = datetime.now(UTC)
    since, lease = now - timedelta(hours=1), timedelta(minutes=10)

    def claim(at):
        with session_scope() as session:  # each claim in its own transaction, as two workers' plans
            return [g.id for g in claim_spares(session, 1, prompt_id, since, 4, at, at - lease)]

    first = claim(now)
    assert len(first) == 2  # the two candidates its pair did not show
    assert claim(now) == []  # a second plan meanwhile gets none of them
    assert sorted(claim(now + lease + timedelta(seconds=1))) == sorted(first)  # a claim whose worker died lapses
    with session_scope() as session:
        release_spares(session, first)  # recorded without showing them
    assert sorted(claim(now)) == sorted(first)


def test_reuse_offers_a_prompts_unshown_candidates_to_its_next_pair(loop_db, monkeypatch):
    _two_prompts_pooled_and_voted(monkeypatch)
    generate_pool(2)  # the next pair of each prompt: its two spares and two new renders

    with session_scope() as session:
        rows = session.scalars(select(Generation).where(Generation.purpose == GenerationPurpose.pool)
                               .order_by(Generation.id)).all()  # fmt: skip
        assert len(rows) == 12  # 4 + 4, then 2 + 2: each second pair rendered only two
        comparisons = session.scalars(select(Comparison).order_by(Comparison.id)).all()
        assert len(comparisons) == 4
        shown = [g for c in comparisons for g in (c.generation_a_id, c.generation_b_id)]
        assert len(shown) == len(set(shown))  # a spare goes to one pair only
        first_ids = {c.prompt_id: c.id for c in comparisons[:2]}
        for comparison in comparisons[2:]:
            of_prompt = [g for g in rows if g.prompt_id == comparison.prompt_id]
            earlier, new = of_prompt[:4], of_prompt[4:]
            first = next(c for c in comparisons if c.id == first_ids[comparison.prompt_id])
            spares = [g for g in earlier if g.id not in (first.generation_a_id, first.generation_b_id)]
            candidates = sorted(spares, key=lambda g: -g.id) + new  # spares newest first, then the renders
            i, j = farthest_pair([_latents(g) for g in candidates])
            assert {comparison.generation_a_id, comparison.generation_b_id} == {candidates[i].id, candidates[j].id}
            assert len({g.seed for g in candidates}) == 4


def test_a_pools_distance_is_measured_on_the_embedding_of_each_pairs_spares_then_renders(loop_db, monkeypatch):
    """An embedder that places each pair's candidates at 0, 1, 2 and 10 makes the first and the last the
    farthest: what the pool shows whatever the latents say, with the spares' images read off disk first."""
    from PIL import Image

    import worker.tasks.pool

    class Embedder:
        calls: list[list] = []

        def embed(self, images):
            self.calls.append([np.asarray(image) for image in images])
            return np.array([[0.0], [1.0], [2.0], [10.0]] * (len(images) // 4))

    _two_prompts_pooled_and_voted(monkeypatch)
    monkeypatch.setattr(worker.tasks.pool, "embedding_judge", lambda settings: Embedder())
    generate_pool(2)  # the next pair of each prompt: its two spares and two new renders

    settings = get_settings()
    embedded = [image for call in Embedder.calls for image in call]  # one call per batch, batches in pair order
    assert len(embedded) == 8
    with session_scope() as session:
        rows = session.scalars(select(Generation).where(Generation.purpose == GenerationPurpose.pool)
                               .order_by(Generation.id)).all()  # fmt: skip
        comparisons = session.scalars(select(Comparison).order_by(Comparison.id)).all()
        for index, comparison in enumerate(comparisons[2:]):
            of_prompt = [g for g in rows if g.prompt_id == comparison.prompt_id]
            first = next(c for c in comparisons[:2] if c.prompt_id == comparison.prompt_id)
            spares = [g for g in of_prompt[:4] if g.id not in (first.generation_a_id, first.generation_b_id)]
            candidates = sorted(spares, key=lambda g: -g.id) + of_prompt[4:]
            pixels = [np.asarray(Image.open(settings.media_dir / g.image_path).convert("RGB")) for g in candidates]
            assert all(np.array_equal(a, b) for a, b in zip(embedded[4 * index : 4 * index + 4], pixels, strict=True))
            assert {comparison.generation_a_id, comparison.generation_b_id} == {candidates[0].id, candidates[3].id}


def test_reward_pool_pairs_diverse_until_a_preference_model_then_where_it_is_least_sure(loop_db, monkeypatch):
    from core.queue import sending_to
    from core.services import reward
    from tests.helpers.reward import voted_square_pairs
    from worker.reward.run import train_version
    from worker.reward.scorer import current_scorer
    from worker.tasks.pool import fill_pool_once

    apply_settings(monkeypatch, pairing="reward", pairing_candidates=4, pairing_random_share=0, pool_target=100,
                   pool_batch=3)  # fmt: skip
    fill_pool_once()
    with session_scope() as session:
        assert {c.pairing for c in session.scalars(select(Comparison))} == {"diverse"}  # no preference model yet
    voted_square_pairs(40, seed=5)
    with sending_to(lambda name, args: None):
        version = reward.request_training(get_settings(), by="test").id
    assert train_version(version, get_settings()) == "ready"
    with session_scope() as session:
        last_comparison = session.scalar(select(Comparison.id).order_by(Comparison.id.desc()).limit(1))
        last_generation = session.scalar(select(Generation.id).order_by(Generation.id.desc()).limit(1))
    fill_pool_once()
    scorer = current_scorer(get_settings())
    with session_scope() as session:
        comparisons = session.scalars(select(Comparison).where(Comparison.id > last_comparison)).all()
        assert len(comparisons) == 3 and {c.pairing for c in comparisons} == {"reward"}
        for comparison in comparisons:
            candidates = session.scalars(select(Generation).where(
                Generation.prompt_id == comparison.prompt_id, Generation.id > last_generation,
                Generation.purpose == GenerationPurpose.pool).order_by(Generation.id)).all()  # fmt: skip
            latents = [_latents(g) for g in candidates]
            i, j = most_uncertain_pair(latents, scorer.scores([comparison.prompt] * len(latents), latents))
            assert {comparison.generation_a_id, comparison.generation_b_id} == {candidates[i].id, candidates[j].id}
    apply_settings(monkeypatch, pairing_random_share=1)  # every pair at random: the model chooses none
    fill_pool_once()
    with session_scope() as session:
        newest = session.scalars(select(Comparison).order_by(Comparison.id.desc()).limit(3)).all()
        assert {c.pairing for c in newest} == {"random"}
