"""Real rows and files for API tests: labelers, and comparisons whose images are rendered scenes."""

from __future__ import annotations

import random

import numpy as np

from core.db.models import Comparison
from core.db.session import session_scope
from core.repo.generations import create_generation, image_relpath, latents_relpath, mark_done
from core.repo.labelers import create_labeler
from core.schemas.generation import GenerationParams
from core.settings import get_settings
from core.states import ComparisonKind, ComparisonState
from worker.scenes.render import render_scene
from worker.scenes.world import caption_for, sample_scene


def make_labeler(name: str, admin: bool = False, ai: bool = False) -> tuple[int, str]:
    with session_scope() as session:
        labeler, token = create_labeler(session, name, admin=admin, ai=ai)
        return labeler.id, token


def real_size(image, size: int, rng: random.Random):
    from PIL import Image

    noise = np.random.default_rng(rng.randrange(2**32)).integers(-12, 13, (size, size, 3))
    scaled = np.asarray(image.convert("RGB").resize((size, size), Image.BICUBIC), dtype=np.int16)
    return Image.fromarray(np.clip(scaled + noise, 0, 255).astype(np.uint8))


def make_comparisons(count: int, checkpoint_id: int = 1, seed: int = 0, pairing: str | None = None,
                     size: int | None = None, campaign_id: int = 1) -> list[int]:
    """Ready train comparisons, each two rendered scenes of one caption, with files on disk; `pairing`:
    the strategy recorded as having chosen them; `size`: images of that many pixels a side (scaled up, with
    noise so that they weigh what real generations weigh) instead of the scenes' own 64."""
    settings = get_settings()
    settings.ensure_dirs()
    rng = random.Random(seed)
    ids = []
    with session_scope() as session:
        for _ in range(count):
            scene = sample_scene(rng)
            prompt = caption_for(scene, with_size=False)
            generations = []
            for _side in range(2):
                g = create_generation(
                    session, GenerationParams(prompt=prompt, seed=rng.randrange(10**9)), purpose="pool"
                )
                image = render_scene(sample_scene(rng, colour=scene.colour, shape=scene.shape))
                if size:
                    image = real_size(image, size, rng)
                image.save(settings.media_dir / image_relpath(g))
                np.save(settings.latents_dir / latents_relpath(g), np.zeros((4, 16, 16), np.float32))
                mark_done(g, checkpoint_id, 1.0)
                generations.append(g)
            comparison = Comparison(
                prompt=prompt,
                generation_a_id=generations[0].id,
                generation_b_id=generations[1].id,
                kind=ComparisonKind.train,
                state=ComparisonState.ready,
                checkpoint_id=checkpoint_id,
                pairing=pairing,
                campaign_id=campaign_id,
            )
            session.add(comparison)
            session.flush()
            ids.append(comparison.id)
    return ids


def serve(comparison_id: int, labeler_id: int) -> str:
    """Lease a comparison to a labeler, as GET /comparisons/next would: votes are taken only on pairs
    served to the voter. The labeler's handle for it, which the API takes in place of its id."""
    from datetime import UTC, datetime, timedelta

    from core.repo.handles import handle_for

    with session_scope() as session:
        comparison = session.get(Comparison, comparison_id)
        comparison.leased_by, comparison.leased_until = labeler_id, datetime.now(UTC) + timedelta(minutes=5)
        return handle_for(session, comparison_id, labeler_id)


def pair_of(handle: str) -> int:
    """The comparison a labeler's handle names: the server's side of it (labelers never see row ids)."""
    from sqlalchemy import select

    from core.db.models import ServeHandle

    with session_scope() as session:
        return session.scalar(select(ServeHandle.comparison_id).where(ServeHandle.token == handle))


def sees_a_on_the_left(comparison_id: int, labeler_id: int) -> bool:
    from core.repo.comparisons import left_is_a

    with session_scope() as session:
        return left_is_a(session, comparison_id, labeler_id)
