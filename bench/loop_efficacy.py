"""Does the loop work? From the base model: simulated labelers vote through the REST API with a
policy, training rounds run on their votes, and the checkpoint serving at the end is judged against
the base on held-out prompts, same seed for both sides.

Run: .venv/bin/python bench/loop_efficacy.py [--policy larger --policy smaller] [--votes 400]
         [--rounds 2] [--config '{"learning_rate": 0.002}']

With --rounds R the votes are split into R shares: each share labels the pool of the checkpoint
serving at that moment, then a round trains on all votes so far from the served checkpoint (the
loop as it runs in production, where the schedule starts a round every DPOLOOP_ROUND_MIN_PAIRS).

Everything runs as in production: API, generate worker, train worker and beat as separate
processes (SQLite and the file broker, as `dpoloop up`), the simulated labeler over HTTP, the round
with the default settings. Held-out prompts are taken out of the pool before it starts. The win
rate counts a tie as half a win; the interval is Wilson's 95% interval.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from app.cli.services import api_command, beat_command, worker_command  # noqa: E402
from core.queue import GENERATE_WORKER_QUEUES  # noqa: E402
from core.settings import Settings  # noqa: E402
from core.win_rate import wilson  # noqa: E402
from worker.scenes.policies import get_policy  # noqa: E402

HELD_OUT = 16  # shipped prompts kept out of the pool and used only for judging


def start_services(env: dict, settings: Settings, logs: Path) -> list[subprocess.Popen]:
    commands = {
        "api": api_command(settings),
        "worker": worker_command(settings, GENERATE_WORKER_QUEUES, "generate@bench"),
        "trainer": worker_command(settings, "train", "train@bench"),
        "beat": beat_command(settings),
    }
    return [
        subprocess.Popen(
            cmd,
            cwd=REPO,
            env=env,
            stdout=open(logs / f"{name}.log", "w"),
            stderr=subprocess.STDOUT,  # noqa: SIM115
            start_new_session=True,
        )  # fmt: skip
        for name, cmd in commands.items()
    ]


def stop_services(processes: list[subprocess.Popen]) -> None:
    for p in processes:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    for p in processes:
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)


def fresh_install(prefix: str, extra_env: dict[str, str]) -> tuple[Path, int, dict, Settings, list[str]]:
    """A migrated install in a new data dir with the shipped prompts, HELD_OUT of them kept out of the
    pool for judging: (data dir, port, the services' environment, settings, held-out prompts)."""
    data_dir = Path(tempfile.mkdtemp(prefix=prefix))
    port = 18000 + random.randrange(2000)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DPOLOOP_")}
    env |= {"DPOLOOP_DATA_DIR": str(data_dir), "DPOLOOP_PORT": str(port), "DPOLOOP_ROUND_SCHEDULE": "false",
            "DPOLOOP_TORCH_THREADS": "2", "PYTHONUNBUFFERED": "1"} | extra_env  # fmt: skip
    os.environ.update({k: v for k, v in env.items() if k.startswith("DPOLOOP_")})
    from core.settings import get_settings

    get_settings.cache_clear()
    settings = get_settings()
    subprocess.run([sys.executable, "-m", "app.cli.main", "migrate"], cwd=REPO, env=env, check=True,
                   capture_output=True)  # fmt: skip
    from sqlalchemy import select, update

    from core.db.models import Prompt
    from core.db.session import session_scope
    from core.services.prompts import seed_shipped_prompts

    seed_shipped_prompts()
    with session_scope() as session:
        prompts = list(session.scalars(select(Prompt.text).order_by(Prompt.id)))
        held_out = random.Random(0).sample(prompts, HELD_OUT)
        session.execute(update(Prompt).where(Prompt.text.in_(held_out)).values(active=False))
    return data_dir, port, env, settings, held_out


def run_policy(policy_name: str, votes: int, rounds: int, config: dict, eval_pairs: int, keep: bool) -> dict:
    # Every vote goes to training, as the goal counts votes; the judge below measures instead.
    data_dir, port, env, settings, held_out = fresh_install(
        f"dpoloop-bench-{policy_name}-",
        {"DPOLOOP_POOL_TARGET": "48", "DPOLOOP_POOL_BATCH": "8", "DPOLOOP_EVAL_SEEDS_PER_PROMPT": "0"},
    )
    from core.services.labelers import create_labeler

    _, token = create_labeler("sim")
    _, admin_token = create_labeler("admin", admin=True)
    logs = data_dir / "logs"
    logs.mkdir()
    processes = start_services(env, settings, logs)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/api/v1/health").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        from worker.scenes.simulate import simulate_labeler

        policy = get_policy(policy_name)

        def progress(n: int, _choice: str) -> None:
            if n % 100 == 0:
                print(f"  {n} votes", flush=True)

        headers = {"Authorization": f"Bearer {admin_token}"}
        rounds_out, choices, total_votes = [], Counter(), 0
        for index in range(rounds):
            # The votes are split evenly; each round's share labels the pool of the checkpoint then serving.
            share = votes // rounds + (1 if index < votes % rounds else 0)
            labelled = simulate_labeler(base, token, policy, share, patience_s=300, on_vote=progress)
            total_votes += labelled.votes
            choices.update(labelled.choices)
            print(f"  round {index + 1}: {labelled.votes} votes in {labelled.seconds:.0f} s: "
                  f"{dict(labelled.choices)}", flush=True)  # fmt: skip
            rounds_out.append(run_round(base, headers, config))
        checkpoints = httpx.get(f"{base}/api/v1/checkpoints", headers=headers).json()
        served = next(c for c in checkpoints if c["active"])
    finally:
        stop_services(processes)

    if served["id"] == 1:
        raise RuntimeError(f"no round was promoted: {json.dumps(rounds_out, default=str)}")
    judged = judge(settings, served, held_out, eval_pairs, policy)
    result = {
        "policy": policy_name,
        "votes": total_votes,
        "choices": dict(choices),
        "rounds": rounds_out,
        "pairs": rounds_out[-1]["pairs"],
        "train_seconds": sum(r["train_seconds"] or 0 for r in rounds_out),
        "served_checkpoint": served["id"],
        "judge_score_base": rounds_out[0]["judge_score_parent"],
        "judge_score": served["metrics"].get("judge_score"),
        **judged,
    }
    if not keep:
        shutil.rmtree(data_dir, ignore_errors=True)
    return result


def run_round(base: str, headers: dict, config: dict) -> dict:
    """Start a round over the API, wait for its end; its figures and whether its checkpoint now serves."""
    response = httpx.post(f"{base}/api/v1/admin/rounds", json={"config": config}, headers=headers)
    if response.status_code != 202:
        raise RuntimeError(f"the round was refused: {response.status_code} {response.text}")
    round_id = response.json()["id"]
    while True:
        row = httpx.get(f"{base}/api/v1/admin/rounds/{round_id}?after_step=1000000", headers=headers).json()
        if row["state"] in ("succeeded", "failed", "cancelled"):
            break
        time.sleep(2)
    if row["state"] != "succeeded":
        raise RuntimeError(f"round {round_id} {row['state']}: {row['error']}")
    checkpoints = httpx.get(f"{base}/api/v1/checkpoints", headers=headers).json()
    checkpoint = next(c for c in checkpoints if c["id"] == row["checkpoint_id"])
    metrics = row["metrics"]
    out = {
        "round": round_id,
        "checkpoint": checkpoint["id"],
        "kind": checkpoint["kind"],
        "pairs": row["counts"].get("pairs"),
        "train_seconds": metrics.get("train_seconds"),
        "promoted": checkpoint["active"],
        "gate": checkpoint["metrics"].get("gate"),
        "held_out_implicit_accuracy": metrics.get("held_out_implicit_accuracy"),
        "held_out_winner_drift": metrics.get("held_out_winner_drift"),
        "judge_score_parent": metrics.get("judge_score_parent"),
        "judge_score": metrics.get("judge_score"),
    }
    print(f"  round {round_id}: {json.dumps(out, default=str)}", flush=True)
    return out


def judge(settings: Settings, checkpoint: dict, prompts: list[str], pairs: int, policy) -> dict:
    """Same-seed pairs, base vs promoted checkpoint, on the held-out prompts; the policy decides."""
    import torch

    from core.schemas.generation import GenerationParams
    from worker.generation.generator import Generator

    torch.set_num_threads(2)
    generator = Generator(settings.base_model)
    requests = [GenerationParams(prompt=prompts[i % len(prompts)], seed=90_000 + i, num_inference_steps=20,
                                 guidance_scale=4.0) for i in range(pairs)]  # fmt: skip
    base = [r.image for s in range(0, pairs, 16) for r in generator.generate(requests[s : s + 16])]
    if checkpoint["kind"] == "full":
        generator.load_denoiser(checkpoint["path"])
    else:
        generator.load_lora(checkpoint["path"])
    new = [r.image for s in range(0, pairs, 16) for r in generator.generate(requests[s : s + 16])]
    outcome = {"left": 0, "right": 0, "tie": 0, "both_bad": 0}
    for request, new_image, base_image in zip(requests, new, base, strict=True):
        outcome[policy.choose(new_image, base_image, request.prompt)] += 1
    wins = outcome["left"] + 0.5 * (outcome["tie"] + outcome["both_bad"])
    low, high = wilson(wins, pairs)
    return {"eval_pairs": pairs, "wins": outcome["left"], "losses": outcome["right"],
            "ties": outcome["tie"] + outcome["both_bad"], "win_rate": wins / pairs, "ci95": (low, high)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", action="append", help="policies to run (default: larger and smaller)")
    parser.add_argument("--votes", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=1, help="rounds the votes are split across")
    parser.add_argument("--config", type=json.loads, default={}, help="DPO settings over the defaults (JSON)")
    parser.add_argument("--eval-pairs", type=int, default=128)
    parser.add_argument("--keep", action="store_true", help="keep each run's data directory")
    args = parser.parse_args()
    results = []
    for name in args.policy or ["larger", "smaller"]:
        print(f"policy {name!r}: {get_policy(name).description}", flush=True)
        started = time.monotonic()
        result = run_policy(name, args.votes, args.rounds, args.config, args.eval_pairs, args.keep)
        result["wall_seconds"] = time.monotonic() - started
        results.append(result)
        print(json.dumps(result, indent=1, default=str), flush=True)
    print("\npolicy    votes  rounds  pairs  train s  served  win rate (95% CI)       judge base→served")
    for r in results:
        low, high = r["ci95"]
        judge_change = f"{r['judge_score_base']:.3f}→{r['judge_score']:.3f}"
        print(
            f"{r['policy']:9} {r['votes']:5}  {len(r['rounds']):6}  {r['pairs']:5}  {r['train_seconds']:7.0f}  "
            f"{r['served_checkpoint']:6}  {r['win_rate']:.1%} ({low:.1%}–{high:.1%})   {judge_change}"
        )
    print("goal: ≥ 80% from ≤ 400 votes and ≤ 600 s of training")


if __name__ == "__main__":
    main()
