"""Make the due human evaluation (a candidate's next batch, a promotion's, an arena match's), a step at a
time (see core/services/evaluations.py).

The pool-filling task calls `evaluation_step` between pool batches, so an evaluation never holds
the generate queue longer than a pool batch does.
"""

from __future__ import annotations

import time

from PIL import Image

from core.refs import CheckpointRef
from core.repo.evaluations import EvaluationRequest
from core.services import evaluations, generations
from core.settings import Settings, get_settings
from core.states import GenerationPurpose
from core.storage import MEDIA, media_file, storage
from worker.judges.registry import cached_judge, configured_judge
from worker.metrics import timing_images
from worker.serving import ModelServer
from worker.tasks.common import save_files


def evaluation_step(server: ModelServer) -> int:
    """One step of the due evaluation; returns how many images or pairs it added (0: none is due)."""
    step = evaluations.plan_step(get_settings())
    if step is None:
        return 0
    if step.render is not None:
        make_images(server, step.render, step.missing)
        return len(step.missing)
    return len(step.requests) if evaluations.record(step) is not None else 0


def make_images(server: ModelServer, checkpoint: CheckpointRef, requests: list[EvaluationRequest]) -> None:
    """Render evaluation images with exactly this checkpoint and record them."""
    started_rows = generations.start_generations([r.params for r in requests], GenerationPurpose.eval,
                                                 checkpoint.id, [r.prompt_id for r in requests])  # fmt: skip
    started = time.perf_counter()
    try:
        with timing_images("eval", len(requests)):
            results, _ = server.generate([r.params for r in requests], checkpoint)
        for row, result in zip(started_rows, results, strict=True):
            save_files(row, result)
    except Exception as exc:
        generations.fail_generations([r.id for r in started_rows], f"{type(exc).__name__}: {exc}")
        raise
    per_image_ms = (time.perf_counter() - started) * 1e3 / len(requests)
    generations.finish_generations([r.id for r in started_rows], checkpoint.id, per_image_ms)


def make_due_evaluation(server: ModelServer) -> int:
    """All steps at once (tests, scripts); returns the pairs of the evaluation it wrote (0: none)."""
    while (added := evaluation_step(server)) > 0:
        if evaluations.due_evaluation_written():
            return added
    return 0


def judge_step(settings: Settings) -> int:
    """The automatic judge's verdict on the next evaluation's pairs, beside the humans': returns the
    pairs judged (0: none due, or no judge for this model)."""
    spec = configured_judge(settings.gate_judge, settings.base_model)
    due = evaluations.judge_due() if spec else None
    if due is None:
        return 0
    evaluation_id, pairs = due
    store = storage(settings)
    found = [(prompt, a, b) for prompt, a, b in pairs
             if a and b and store.exists(f"{MEDIA}/{a}") and store.exists(f"{MEDIA}/{b}")]  # fmt: skip
    judge = cached_judge(spec)
    prompts = [prompt for prompt, _, _ in found]
    scores = [judge.score(prompts, [Image.open(media_file(settings, item[side])).convert("RGB") for item in found])
              for side in (1, 2)]  # fmt: skip
    wins = sum(a > b for a, b in zip(*scores, strict=True))
    losses = sum(a < b for a, b in zip(*scores, strict=True))
    ties = len(found) - wins - losses
    rate = (wins + ties / 2) / len(found) if found else None
    evaluations.record_judge(evaluation_id, {"judge": spec, "wins": wins, "losses": losses, "ties": ties,
                                             "win_rate": rate})  # fmt: skip
    return len(found)
