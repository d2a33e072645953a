"""One process of a data-parallel round: `accelerate launch … -m worker.rounds.train_process JOB_DIR`.

The task that launched it (worker/rounds/parallel.py) owns the round: the claim, the database, the
gate, the checkpoint. Each process here loads the base pipeline on its own device, builds the same
trainer from the same seed (so every process starts with identical weights and draws identical
batches), trains its share of each global batch with DDP averaging the gradients, and stops when
rank 0 sees the task's stop file. Rank 0 writes each step's metrics to steps.jsonl as it goes, then
the trained weights and result.json; any rank that fails writes error-RANK.txt and exits non-zero.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path

import numpy as np
import torch

from core.refs import CheckpointRef
from core.schemas.rounds import DPOConfig
from worker.dpo.trainer import TrainingPair

JOB, STEPS, STOP, RESULT, WEIGHTS = "job.json", "steps.jsonl", "stop", "result.json", "weights"


def read_pairs(rows: list[list[str]]) -> list[TrainingPair]:
    return [TrainingPair(prompt, np.load(winner), np.load(loser)) for prompt, winner, loser in rows]


def run(job_dir: Path) -> None:
    from accelerate import Accelerator

    from worker.rounds.model import open_round_model

    job = json.loads((job_dir / JOB).read_text())
    on_gpu = torch.cuda.is_available() and job["device"] != "cpu"
    accelerator = Accelerator(cpu=not on_gpu)
    torch.set_num_threads(max(1, job["threads"] // (1 if on_gpu else accelerator.num_processes)))
    config = DPOConfig(**job["config"])
    start, reference = CheckpointRef(**job["start"]), CheckpointRef(**job["reference"])
    trainer = open_round_model(job["base_model"], accelerator.device, config, start, reference).trainer
    trainer.data_parallel(accelerator)
    trainer.held_out_draws = job["held_out_draws"]
    train, held_out = read_pairs(job["train"]), read_pairs(job["held_out"])
    is_main = accelerator.is_main_process
    steps_file = (job_dir / STEPS).open("a") if is_main else None

    def on_step(metrics: dict) -> None:
        if steps_file:
            steps_file.write(json.dumps(metrics) + "\n")
            steps_file.flush()

    def should_stop() -> bool:
        # Every process must leave at the same step: rank 0 decides, the others follow its answer.
        flag = torch.tensor([1.0 if is_main and (job_dir / STOP).exists() else 0.0], device=accelerator.device)
        return bool(accelerator.reduce(flag, "sum").item())

    metrics = trainer.fit(train, held_out, on_step=on_step, should_stop=should_stop)
    accelerator.wait_for_everyone()
    if is_main:
        kind = trainer.save(job_dir / WEIGHTS)
        result = {"metrics": metrics, "steps": trainer.step_count, "kind": str(kind), "processes": trainer.world}
        (job_dir / RESULT).write_text(json.dumps(result))
    accelerator.wait_for_everyone()


def main() -> None:
    job_dir = Path(sys.argv[1])
    try:
        run(job_dir)
    except BaseException as exc:
        import os

        rank = os.environ.get("RANK", "0")
        (job_dir / f"error-{rank}.txt").write_text(f"{type(exc).__name__}: {exc}\n\n{traceback.format_exc()}")
        raise


if __name__ == "__main__":
    main()
