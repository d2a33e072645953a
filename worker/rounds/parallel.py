"""A round's training on several processes (DPOLOOP_TRAIN_PROCESSES > 1), launched from the round's
own task through `accelerate launch` (DDP; gloo on CPU, NCCL on GPUs; an `accelerate config` file
in DPOLOOP_ACCELERATE_CONFIG for more machines or another backend).

The task stays the round's owner: it writes a job directory (config, start and reference, the
pairs' latent files), launches the processes (worker/rounds/train_process.py), stores each step
rank 0 reports as it arrives (the curves and the heartbeat, under the claim), asks them to stop on
an admin's cancel, and reads back the trained weights. Any process failing fails the round with its
error and leaves the served checkpoint alone; the round's slot is freed as for any failure. The
task loads its own copy of the model only after the processes are done, so a GPU is not shared
with a training process.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

from core.paths import REPO_ROOT
from core.services import rounds
from core.services.rounds import RoundClaim
from core.settings import Settings
from core.states import RoundState
from worker.checkpoint_io import on_this_machine
from worker.rounds.data import RoundData
from worker.rounds.model import RoundModel, training_config
from worker.rounds.stopped import RoundStopped
from worker.rounds.train_process import JOB, RESULT, STEPS, STOP, WEIGHTS


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_command(settings: Settings, job_dir: Path) -> list[str]:
    command = [sys.executable, "-m", "accelerate.commands.launch"]
    if settings.accelerate_config:
        command += ["--config_file", settings.accelerate_config]
    else:  # one machine: one process per GPU, or gloo processes on the CPU
        command += ["--multi_gpu", "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
                    "--main_process_port", str(_free_port())]  # fmt: skip
    return command + ["--num_processes", str(settings.train_processes), "-m", "worker.rounds.train_process",
                      str(job_dir)]  # fmt: skip


def write_job(job_dir: Path, claim: RoundClaim, data: RoundData, settings: Settings) -> None:
    config = training_config(claim.config, settings)
    job = {"base_model": settings.base_model, "device": settings.device, "threads": settings.torch_threads,
           "config": config.model_dump(), "start": asdict(on_this_machine(settings, claim.start)),
           "reference": asdict(on_this_machine(settings, claim.reference)),
           "train": data.files["train"], "held_out": data.files["held_out"],
           "held_out_draws": settings.gate_draws}  # fmt: skip
    (job_dir / JOB).write_text(json.dumps(job))


class TrainedElsewhere:
    """What the processes made: their final metrics and the weights, ready to put on the task's model."""

    def __init__(self, job_dir: Path, result: dict, losses: list[float], seconds: float):
        self.job_dir, self.result, self.losses, self.seconds = job_dir, result, losses, seconds

    def put_on(self, model: RoundModel) -> dict:
        """Load the trained weights into the task's trainer (as if it had trained them); the metrics."""
        from worker.dpo.trainer import ADAPTER, load_adapter_weights

        trainer, weights = model.trainer, self.job_dir / WEIGHTS
        if trainer.config.method == "lora":
            load_adapter_weights(model.pipe, model.family, trainer.denoiser, weights, ADAPTER)
        else:
            tuned = type(trainer.denoiser).from_pretrained(str(weights / model.family.denoiser))
            trainer.denoiser.load_state_dict(tuned.state_dict())
        trainer.step_count = self.result["steps"]
        final_loss = statistics.fmean(self.losses[-10:])
        done = {"train_seconds": self.seconds, "final_loss": final_loss, "steps": self.result["steps"],
                "train_processes": self.result["processes"]}  # fmt: skip
        return self.result["metrics"] | done


def _failure(job_dir: Path, log: Path, code: int) -> RoundStopped:
    errors = sorted(job_dir.glob("error-*.txt"))
    if errors:
        first = errors[0].read_text().splitlines()[0]
        if first.startswith("FloatingPointError"):
            return RoundStopped(RoundState.failed, f"training diverged: {first.split(': ', 1)[1]}")
        return RoundStopped(RoundState.failed, f"training process {errors[0].stem.split('-')[1]} failed: {first}")
    tail = " | ".join(log.read_text(errors="replace").strip().splitlines()[-3:])
    return RoundStopped(RoundState.failed, f"training processes exited with {code}: {tail[-500:]}")


@contextmanager
def trained_in_processes(claim: RoundClaim, data: RoundData, settings: Settings) -> Iterator[TrainedElsewhere]:
    """Train on settings.train_processes processes; yields the result while its files exist."""
    job_dir = settings.data_dir / "rounds" / f"round-{claim.round_id}-{claim.token[:8]}"
    shutil.rmtree(job_dir, ignore_errors=True)
    job_dir.mkdir(parents=True)
    try:
        write_job(job_dir, claim, data, settings)
        yield _run(job_dir, claim, settings)
    finally:
        shutil.rmtree(job_dir, ignore_errors=True)


def _run(job_dir: Path, claim: RoundClaim, settings: Settings) -> TrainedElsewhere:
    log = job_dir / "launch.log"
    env = os.environ | {"OMP_NUM_THREADS": str(max(1, settings.torch_threads // settings.train_processes))}
    started = time.perf_counter()
    with log.open("w") as out:
        process = subprocess.Popen(launch_command(settings, job_dir), cwd=REPO_ROOT, env=env, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    losses: list[float] = []
    offset = 0
    try:
        while True:
            done = process.poll() is not None
            offset = _record_steps(job_dir / STEPS, offset, claim, losses)
            if done:
                break
            if rounds.cancel_requested(claim.round_id):
                (job_dir / STOP).touch()
            time.sleep(0.5)
    except BaseException:  # RoundLost, or the task itself stopping: take the processes down with it
        _kill(process)
        raise
    if process.returncode != 0:
        raise _failure(job_dir, log, process.returncode)
    result = json.loads((job_dir / RESULT).read_text())
    if result["steps"] < claim.config.steps:
        raise RoundStopped(RoundState.cancelled, f"cancelled at step {result['steps']} of {claim.config.steps}")
    return TrainedElsewhere(job_dir, result, losses, time.perf_counter() - started)


def _record_steps(path: Path, offset: int, claim: RoundClaim, losses: list[float]) -> int:
    """Store the complete lines rank 0 appended since offset; returns the new offset."""
    if not path.exists():
        return offset
    with path.open() as f:
        f.seek(offset)
        chunk = f.read()
    lines = chunk.split("\n")
    for line in lines[:-1]:  # the last piece is empty or a line still being written
        metrics = json.loads(line)
        losses.append(metrics["loss"])
        rounds.add_step(claim, metrics)
    return offset + len(chunk) - len(lines[-1])


def _kill(process: subprocess.Popen) -> None:
    import signal

    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

