"""Per-request adapter switching: images/s when requests alternate between two campaigns' LoRA adapters,
against all on one campaign's, in one process; and the same alternation on a worker that holds one
adapter at a time (DPOLOOP_ADAPTERS_HELD=1: each switch reads the file, swaps it in and smoke-tests it,
which is what serving another campaign cost before workers held several).

Run: .venv/bin/python bench/adapter_switching.py [--trials 5] [--requests 8] [--steps 20]

One serving process (two ModelServers on the shipped model: one holding 2 adapters, one holding 1) on a
temporary SQLite database; real LoRA checkpoints (a few Diffusion-DPO steps each). Each trial times
`--requests` single-image requests (as the generate task makes them) in each condition, in a rotated
order; ratios are paired within a trial.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--requests", type=int, default=8, help="single-image requests per condition and trial")
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()

    data = Path(tempfile.mkdtemp(prefix="dpoloop-adapters-"))
    os.environ.update({"DPOLOOP_DATA_DIR": str(data), "DPOLOOP_DATABASE_URL": f"sqlite:///{data / 'db.sqlite3'}"})
    from bench.hot_swap import make_checkpoint
    from core.db.migrate import upgrade
    from core.db.models import Checkpoint
    from core.db.session import session_scope
    from core.paths import stored_path
    from core.refs import CheckpointRef
    from core.schemas.generation import GenerationParams
    from core.settings import get_settings
    from core.states import BASE_CHECKPOINT_ID, CheckpointKind, CheckpointStatus
    from worker.serving import ModelServer

    settings = get_settings()
    settings.ensure_dirs()
    upgrade()
    adapters = []
    for seed, name in enumerate(("campaign-a", "campaign-b")):
        path = make_checkpoint(settings.base_model, settings.checkpoints_dir / name, "lora", seed)
        with session_scope() as session:
            row = Checkpoint(name=name, kind=CheckpointKind.lora, path=stored_path(settings.data_dir, path),
                             parent_id=BASE_CHECKPOINT_ID, status=CheckpointStatus.ready, metrics={})  # fmt: skip
            session.add(row)
            session.flush()
            adapters.append(CheckpointRef(row.id, row.kind, row.path))
    a, b = adapters
    held = ModelServer(settings.model_copy(update={"adapters_held": 2}))
    one_slot = ModelServer(settings.model_copy(update={"adapters_held": 1}))
    request = GenerationParams(prompt="a green triangle", seed=1, num_inference_steps=args.steps, guidance_scale=4.0)
    for server in (held, one_slot):  # warm: the pipeline, and each adapter once
        server.warm()
        for ref in (a, b):
            server.generate([request], ref)

    conditions = {
        "one campaign": (held, [a] * args.requests),
        "alternating": (held, [a, b] * (args.requests // 2)),
        "alternating, 1 held": (one_slot, [a, b] * (args.requests // 2)),
    }
    rates: dict[str, list[float]] = {name: [] for name in conditions}
    for trial in range(args.trials):
        names = list(conditions)
        names = names[trial % len(names):] + names[: trial % len(names)]  # rotate: no condition always first
        for name in names:
            server, looks = conditions[name]
            started = time.perf_counter()
            for look in looks:
                server.generate([request], look)
            rates[name].append(len(looks) / (time.perf_counter() - started))
        print(f"trial {trial + 1}: " + ", ".join(f"{n} {rates[n][-1]:.2f}/s" for n in conditions), flush=True)

    print(f"\n{args.trials} trials of {args.requests} requests, {args.steps} steps, torch threads "
          f"{settings.torch_threads}")  # fmt: skip
    for name, values in rates.items():
        print(f"{name:22} images/s median {statistics.median(values):.3f}  (min {min(values):.3f}, "
              f"max {max(values):.3f})")  # fmt: skip
    for name in ("alternating", "alternating, 1 held"):
        ratios = [x / y for x, y in zip(rates[name], rates["one campaign"], strict=True)]
        print(f"{name} / one campaign: median {statistics.median(ratios):.3f}  "
              f"(per trial: {', '.join(f'{r:.3f}' for r in ratios)})")  # fmt: skip


if __name__ == "__main__":
    main()
