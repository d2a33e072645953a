"""Hot swap under load: generation latency and failures over a window that spans promotions, and
the time from a promotion to the first image made by the new checkpoint.

Run: .venv/bin/python bench/hot_swap.py

One serving process (the worker's ModelServer and its promotion watcher) on a temporary SQLite
database; a client thread generates back to back (one 64×64 image, 20 steps) for a window with no
promotion (the baseline) and then for a window with promotions base → LoRA → full UNet → LoRA →
base, each half a window apart. Checkpoints are real: a few Diffusion-DPO steps on the shipped model.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
WINDOW_S = 12.0


def make_checkpoint(base_model: str, directory: Path, method: str, seed: int) -> Path:
    import numpy as np

    from core.schemas.rounds import DPOConfig
    from worker.checkpoint_io import write_atomically
    from worker.dpo.trainer import DPOTrainer, TrainingPair
    from worker.generation.loading import load_pipeline

    pipe, family = load_pipeline(base_model)
    config = DPOConfig(
        method=method, seed=seed, steps=2, batch_pairs=2, learning_rate=1e-2 if method == "lora" else 1e-4
    )
    trainer = DPOTrainer(pipe, family, config)
    rng = np.random.default_rng(seed)
    pairs = [TrainingPair("a red circle", rng.standard_normal((4, 16, 16), np.float32),
                          rng.standard_normal((4, 16, 16), np.float32)) for _ in range(4)]  # fmt: skip
    trainer.fit(pairs, [])
    return write_atomically(directory, trainer.save, {"config": config.model_dump()})


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    data = Path(tempfile.mkdtemp(prefix="dpoloop-swap-"))
    os.environ.update({"DPOLOOP_DATA_DIR": str(data), "DPOLOOP_DATABASE_URL": f"sqlite:///{data / 'db.sqlite3'}"})
    from core.db.migrate import upgrade
    from core.db.models import Checkpoint
    from core.db.session import session_scope
    from core.paths import stored_path
    from core.schemas.generation import GenerationParams
    from core.services import checkpoints
    from core.settings import get_settings
    from core.states import BASE_CHECKPOINT_ID, CheckpointKind, CheckpointStatus
    from worker.serving import ModelServer, watch_promotions

    settings = get_settings()
    settings.ensure_dirs()
    upgrade()
    ids = {}
    for seed, (name, method) in enumerate((("lora-a", "lora"), ("full", "full"), ("lora-b", "lora"))):
        path = make_checkpoint(settings.base_model, settings.checkpoints_dir / name, method, seed)
        with session_scope() as session:
            row = Checkpoint(name=name, kind=CheckpointKind(method), path=stored_path(settings.data_dir, path),
                             parent_id=BASE_CHECKPOINT_ID, status=CheckpointStatus.ready, metrics={})  # fmt: skip
            session.add(row)
            session.flush()
            ids[name] = row.id
    server = ModelServer(settings)
    server.warm()
    request = GenerationParams(prompt="a green triangle", seed=1, num_inference_steps=20, guidance_scale=4.0)
    server.generate([request])

    def window(promotions: list[int]) -> dict:
        stop, served, failures = threading.Event(), [], []

        def client():
            while not stop.is_set():
                started = time.monotonic()
                try:
                    _, checkpoint_id = server.generate([request])
                    served.append((started, time.monotonic(), checkpoint_id))
                except Exception as exc:  # noqa: BLE001 - counted
                    failures.append(exc)

        watcher = threading.Thread(target=watch_promotions, args=(server, stop), daemon=True)
        thread = threading.Thread(target=client, daemon=True)
        watcher.start()
        thread.start()
        swaps = []
        begin = time.monotonic()
        for i, checkpoint_id in enumerate(promotions):
            time.sleep(max(0.0, begin + (i + 0.5) * WINDOW_S / (len(promotions) + 1) - time.monotonic()))
            promoted_at = time.monotonic()
            checkpoints.promote(checkpoint_id, by="bench")
            while not any(c == checkpoint_id and end > promoted_at for _, end, c in served):
                if time.monotonic() - promoted_at > 30:
                    break
                time.sleep(0.005)
            first = next((end for _, end, c in served if c == checkpoint_id and end > promoted_at), None)
            swaps.append(None if first is None else first - promoted_at)
        time.sleep(max(0.0, begin + WINDOW_S - time.monotonic()))
        stop.set()
        thread.join(30)
        watcher.join(30)
        latencies = [(end - start) * 1e3 for start, end, _ in served]
        return {"n": len(latencies), "failures": len(failures), "p50": statistics.median(latencies),
                "p99": percentile(latencies, 0.99), "max": max(latencies), "swaps": swaps}  # fmt: skip

    baseline = window([])
    swapping = window([ids["lora-a"], ids["lora-b"], ids["full"], ids["lora-a"], 1])
    print(f"{'window':28} {'images':>6} {'failed':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for name, w in (("no promotion (baseline)", baseline), ("5 promotions", swapping)):
        print(f"{name:28} {w['n']:6d} {w['failures']:6d} {w['p50']:8.0f} {w['p99']:8.0f} {w['max']:8.0f}")
    labels = ["base → lora-a", "lora-a → lora-b (in place)", "lora-b → full UNet", "full → lora-a", "lora-a → base"]
    print("\npromotion → first image from the new checkpoint (includes finishing the image in flight):")
    for label, seconds in zip(labels, swapping["swaps"], strict=True):
        print(f"  {label:28} {'never' if seconds is None else f'{seconds * 1e3:.0f} ms'}")
    print(f"\np99 ratio swapping/baseline: {swapping['p99'] / baseline['p99']:.2f}")


if __name__ == "__main__":
    main()
