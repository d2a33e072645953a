"""Does the loop work? From the base model: simulated labelers vote through the REST API with a
policy, training rounds run on their votes, and the checkpoint serving at the end is judged against
the base on held-out prompts, same seed for both sides.

Run: .venv/bin/python bench/loop_efficacy.py [--policy larger --policy smaller] [--votes 400]
         [--rounds 2] [--config '{"learning_rate": 0.002}']
     .venv/bin/python bench/loop_efficacy.py --promotion --repeats 5 --rounds 2 --votes 200 --out promo.json
     .venv/bin/python bench/loop_efficacy.py --policy larger --pairing random --pairing diverse
         [--pairing uncertain+promote] [--pairing random+chain] --repeats 5 --votes 100 200 400 --out loop.json

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

from loop_stats import print_report  # noqa: E402

from cli.services import api_command, beat_command, worker_command  # noqa: E402
from core.paths import resolve_stored  # noqa: E402
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
    subprocess.run([sys.executable, "-m", "cli.main", "migrate"], cwd=REPO, env=env, check=True,
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


def _start(prefix: str, extra_env: dict[str, str]):
    """A fresh install with its services up and two logins: (data dir, settings, held-out prompts,
    processes, base URL, the labeler's token, admin headers)."""
    data_dir, port, env, settings, held_out = fresh_install(prefix, extra_env)
    from core.services.labelers import create_labeler

    _, token = create_labeler("sim")
    _, admin_token = create_labeler("admin", admin=True)
    logs = data_dir / "logs"
    logs.mkdir()
    processes = start_services(env, settings, logs)
    base = f"http://127.0.0.1:{port}"
    wait_healthy(base)
    return data_dir, settings, held_out, processes, base, token, {"Authorization": f"Bearer {admin_token}"}


def wait_healthy(base: str, timeout_s: float = 60) -> None:
    """Until the API answers its health check (or timeout_s passes: the first request then fails loudly)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/api/v1/health").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)


def _bench_env(pairing: str, extra: dict | None = None) -> dict[str, str]:
    # Every vote goes to training (no gold pairs), as the goal counts votes; the judge below measures.
    # Gate mode: these runs measure training; --promotion (loop_promotion.py) runs the labelers' verdict.
    return {"DPOLOOP_POOL_TARGET": "48", "DPOLOOP_POOL_BATCH": "8", "DPOLOOP_EVAL_SEEDS_PER_PROMPT": "0",
            "DPOLOOP_PROMOTION": "gate", "DPOLOOP_REWARD_RETRAIN_VOTES": "0",  # a version only where a run asks
            "DPOLOOP_GOLD_RATE": "0", "DPOLOOP_PAIRING": pairing} | (extra or {})  # fmt: skip


def _progress(n: int, _choice: str) -> None:
    if n % 100 == 0:
        print(f"  {n} votes", flush=True)


def run_policy(policy_name: str, votes: int, rounds: int, config: dict, eval_pairs: int, keep: bool,
               pairing: str = "random") -> dict:  # fmt: skip
    """The loop as production runs it: R rounds, each share of the votes labelling the pool of the
    checkpoint then serving, each round training from the served checkpoint on all votes so far."""
    data_dir, settings, held_out, processes, base, token, headers = _start(
        f"dpoloop-bench-{policy_name}-", _bench_env(pairing)
    )
    try:
        from worker.scenes.simulate import simulate_labeler

        policy = get_policy(policy_name)
        rounds_out, choices, total_votes = [], Counter(), 0
        for index in range(rounds):
            # The votes are split evenly; each round's share labels the pool of the checkpoint then serving.
            share = votes // rounds + (1 if index < votes % rounds else 0)
            labelled = simulate_labeler(base, token, policy, share, patience_s=300, on_vote=_progress)
            total_votes += labelled.votes
            choices.update(labelled.choices)
            print(f"  round {index + 1}: {labelled.votes} votes in {labelled.seconds:.0f} s: "
                  f"{dict(labelled.choices)}", flush=True)  # fmt: skip
            rounds_out.append(run_round(base, headers, config, processes))
        checkpoints = httpx.get(f"{base}/api/v1/checkpoints", headers=headers).json()
        served = next(c for c in checkpoints if c["active"])
    finally:
        stop_services(processes)

    if served["id"] == 1:
        raise RuntimeError(f"no round was promoted: {json.dumps(rounds_out, default=str)}")
    judged = judge(settings, served, held_out, eval_pairs, policy)
    result = {
        "policy": policy_name,
        "pairing": pairing,
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


def pool_generation_seconds() -> float:
    """Seconds the generate worker spent rendering pool images so far (every candidate, shown or not)."""
    from sqlalchemy import func, select

    from core.db.models import Generation
    from core.db.session import session_scope
    from core.states import GenerationPurpose

    with session_scope() as session:
        pool = Generation.purpose == GenerationPurpose.pool
        total = session.scalar(select(func.sum(Generation.duration_ms)).where(pool))
    return (total or 0.0) / 1e3


def run_budgets(policy_name: str, budgets: list[int], pairing: str, seed: int, variants: dict[str, dict],
                eval_pairs: int, keep: bool) -> list[dict]:  # fmt: skip
    """One repeat over several vote budgets: the labeler votes up to each budget in turn, and at each
    one round per training variant trains on the votes so far (the same votes for every variant), from
    the base unless +chain; every round's checkpoint is judged against the base. The seed moves the
    training; the pool's seeds are drawn fresh in every install.

    pairing is a strategy with optional modifiers, "STRATEGY[+reuse][+promote|+chain]". Without them
    every vote is on the base's pool (nothing is promoted); with +promote the default variant's
    checkpoint of each budget serves the next budget's pool (gate or not), as the loop runs — uncertain
    needs it, since it ranks by the served checkpoint's reward. +chain promotes the same way, and each
    variant's round at a budget trains from that variant's own checkpoint of the budget before (on all
    votes so far, as production's rounds train from what serves): the checkpoint judged at the k-th
    budget is k rounds deep, the later ones fed by the freshest checkpoint's pairs (the default's pool,
    which every variant shares). +reuse sets DPOLOOP_PAIRING_REUSE."""
    strategy, *modifiers = pairing.split("+")
    chain = "chain" in modifiers
    promote = chain or "promote" in modifiers
    start_from = dict.fromkeys(variants, 1)  # per variant: the base, then (+chain) its last checkpoint
    # Pinned so a stray setting cannot make start_from moot (round_start_from=base ignores it).
    extra = {"DPOLOOP_AUTO_PROMOTE": "false", "DPOLOOP_PAIRING_REUSE": str("reuse" in modifiers).lower(),
             "DPOLOOP_ROUND_START_FROM": "active", "DPOLOOP_ROUND_REFERENCE": "base"}  # fmt: skip
    data_dir, settings, held_out, processes, base, token, headers = _start(
        f"dpoloop-bench-{policy_name}-{strategy}-{seed}-", _bench_env(strategy, extra)
    )
    policy = get_policy(policy_name)
    made: list[tuple[int, str, dict, dict]] = []
    reward_models: dict[int, dict] = {}  # per budget: the preference model version reward variants used
    try:
        from worker.scenes.simulate import simulate_labeler

        done, choices = 0, Counter()
        for budget in sorted(budgets):
            labelled = simulate_labeler(base, token, policy, budget - done, patience_s=300, on_vote=_progress)
            done += labelled.votes
            choices.update(labelled.choices)
            print(f"  {policy_name}/{pairing} seed {seed}: {done} votes: {dict(choices)}", flush=True)
            generation_s = pool_generation_seconds()  # before the rounds: their judge renders evaluation images
            if any("reward" in config.get("sources", ()) for config in variants.values()):
                reward_models[budget] = train_reward_model(base, headers, processes)  # on the votes so far
            made_now = {}
            for name, config in variants.items():
                made_now[name] = run_round(base, headers, config | {"start_from": start_from[name], "seed": seed},
                                           processes)  # fmt: skip
                made.append((budget, name, made_now[name], dict(choices) | {"_generation_s": generation_s}))
            if promote and budget < max(budgets):
                served = made_now["default"]["checkpoint"]
                response = httpx.post(f"{base}/api/v1/admin/checkpoints/{served}/promote", headers=headers)
                response.raise_for_status()
            if chain:
                start_from = {name: out["checkpoint"] for name, out in made_now.items()}
        checkpoints = {c["id"]: c for c in httpx.get(f"{base}/api/v1/checkpoints", headers=headers).json()}
    finally:
        stop_services(processes)
    results = []
    for budget, name, round_out, choices_then in made:
        judged = judge(settings, checkpoints[round_out["checkpoint"]], held_out, eval_pairs, policy)
        generation_s = choices_then.pop("_generation_s")
        results.append({"policy": policy_name, "pairing": pairing, "variant": name, "seed": seed, "votes": budget,
                        "judge_score_base": made[0][2]["judge_score_parent"],  # the first round trains from it
                        "config": variants[name], "budgets": sorted(budgets), "choices": choices_then,
                        "pairs": round_out["pairs"],
                        "round": round_out, "generation_s_per_vote": generation_s / budget,
                        "reward_model": reward_models.get(budget), **judged})  # fmt: skip
        print(f"  {policy_name}/{pairing}/{name} seed {seed} at {budget} votes: {judged['wins']} W / "
              f"{judged['losses']} L / {judged['ties']} T = {judged['win_rate']:.1%}", flush=True)  # fmt: skip
    if not keep:
        shutil.rmtree(data_dir, ignore_errors=True)
    return results


def train_reward_model(base: str, headers: dict, processes: list[subprocess.Popen] = ()) -> dict:
    """A preference model version on the votes so far, trained by the train worker; its figures."""
    response = httpx.post(f"{base}/api/v1/admin/reward/train", headers=headers)
    if response.status_code != 202:
        raise RuntimeError(f"the preference model was refused: {response.status_code} {response.text}")
    version_id = response.json()["id"]
    while True:
        found = httpx.get(f"{base}/api/v1/admin/reward", headers=headers).json()
        version = next(v for v in found["versions"] if v["id"] == version_id)
        if version["state"] in ("ready", "failed"):
            break
        if [p.args for p in processes if p.poll() is not None]:
            raise RuntimeError("a service died while the preference model trained")
        time.sleep(2)
    if version["state"] != "ready":
        raise RuntimeError(f"preference model version {version_id} failed: {version['error']}")
    out = {key: version[key] for key in ("id", "votes", "train_pairs", "held_out_pairs", "held_out_accuracy")}
    out["seconds"] = version["card"]["seconds"]
    print(f"  preference model: {json.dumps(out)}", flush=True)
    return out


def run_round(base: str, headers: dict, config: dict, processes: list[subprocess.Popen] = (),
              campaign: str = "default") -> dict:  # fmt: skip
    """Start a round of the campaign over the API, wait for its end; its figures and whether its checkpoint
    now serves. Raises if one of the services' processes dies meanwhile (the round would never end)."""
    body = {"config": config, "campaign": campaign}
    response = httpx.post(f"{base}/api/v1/admin/rounds", json=body, headers=headers)
    if response.status_code != 202:
        raise RuntimeError(f"the round was refused: {response.status_code} {response.text}")
    round_id = response.json()["id"]
    while True:
        row = httpx.get(f"{base}/api/v1/admin/rounds/{round_id}?after_step=1000000", headers=headers).json()
        if row["state"] in ("succeeded", "failed", "cancelled"):
            break
        dead = [p.args for p in processes if p.poll() is not None]
        if dead:
            raise RuntimeError(f"a service died while round {round_id} ran: {dead}")
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
        "reward_pairs": row["counts"].get("reward_pairs"),
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


_BASE_IMAGES: dict[tuple, list] = {}


def judge(settings: Settings, checkpoint: dict, prompts: list[str], pairs: int, policy) -> dict:
    """Same-seed pairs, base vs promoted checkpoint, on the held-out prompts; the policy decides.
    `checkpoint["path"]` as the registry stores it: relative to the data dir."""
    import torch

    from core.schemas.generation import GenerationParams
    from worker.generation.generator import Generator

    torch.set_num_threads(2)
    generator = Generator(settings.base_model)
    requests = [GenerationParams(prompt=prompts[i % len(prompts)], seed=90_000 + i, num_inference_steps=20,
                                 guidance_scale=4.0) for i in range(pairs)]  # fmt: skip
    key = (str(settings.base_model), tuple(prompts), pairs)
    if key not in _BASE_IMAGES:  # the base side is the same for every checkpoint judged: render it once
        _BASE_IMAGES[key] = [r.image for s in range(0, pairs, 16) for r in generator.generate(requests[s : s + 16])]
    base = _BASE_IMAGES[key]
    folder = str(resolve_stored(settings.data_dir, checkpoint["path"]))
    if checkpoint["kind"] == "full":
        generator.load_denoiser(folder)
    else:
        generator.load_lora(folder)
    new = [r.image for s in range(0, pairs, 16) for r in generator.generate(requests[s : s + 16])]
    outcome = {"left": 0, "right": 0, "tie": 0, "both_bad": 0}
    for request, new_image, base_image in zip(requests, new, base, strict=True):
        outcome[policy.choose(new_image, base_image, request.prompt)] += 1
    wins = outcome["left"] + 0.5 * (outcome["tie"] + outcome["both_bad"])
    low, high = wilson(wins, pairs)
    return {"eval_pairs": pairs, "wins": outcome["left"], "losses": outcome["right"],
            "ties": outcome["tie"] + outcome["both_bad"], "win_rate": wins / pairs, "ci95": (low, high)}  # fmt: skip


def pairing_problem(pairing: str) -> str | None:
    """Why a --pairing value cannot run, or None: STRATEGY, then +reuse and at most one of +promote, +chain."""
    strategy, *modifiers = pairing.split("+")
    if strategy not in ("random", "diverse", "uncertain"):
        return "the strategy is random, diverse or uncertain"
    if not set(modifiers) <= {"reuse", "promote", "chain"} or {"promote", "chain"} <= set(modifiers):
        return "after the strategy, +reuse and at most one of +promote and +chain"
    if strategy == "uncertain" and not {"promote", "chain"} & set(modifiers):
        return "uncertain needs +promote or +chain: without a promotion the base serves, which has no reward"
    return None


def _variant(text: str) -> tuple[str, dict]:
    name, _, settings = text.partition("=")
    if not name or name == "default" or not settings:
        raise argparse.ArgumentTypeError("a variant is NAME=JSON, with a name other than 'default'")
    return name, json.loads(settings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", action="append", help="policies to run (default: larger and smaller)")
    parser.add_argument("--votes", type=int, nargs="+", default=[400], help="vote budgets (several: one round each)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds one budget's votes are split across")
    parser.add_argument("--repeats", type=int, default=1, help="runs per policy, strategy and budget (seed 0…N-1)")
    parser.add_argument(
        "--pairing",
        action="append",
        help="pair selection strategies, each with +reuse, +promote, +chain (default: random)",
    )
    parser.add_argument("--config", type=json.loads, default={}, help="DPO settings over the defaults (JSON)")
    parser.add_argument("--variant", action="append", type=_variant, metavar="NAME=JSON",
                        help="another training variant, trained on the same votes at every budget (settings over "
                             "--config); each is compared with the default on the same votes")  # fmt: skip
    parser.add_argument("--promotion", action="store_true",
                        help="the production path: candidates judged by the labeler's votes to a verdict "
                             "(bench/loop_promotion.py); --votes per round, --rounds per run, --repeats "
                             "runs")  # fmt: skip
    parser.add_argument("--eval-pairs", type=int, default=128)
    parser.add_argument("--out", type=Path, help="every run's figures (JSON); an existing file is resumed")
    parser.add_argument("--keep", action="store_true", help="keep each run's data directory")
    args = parser.parse_args()
    if args.promotion:
        return promotion_runs(args)
    if args.rounds > 1 and (len(args.votes) > 1 or args.repeats > 1):
        parser.error("--rounds splits one budget of one run; use it without several --votes or --repeats")
    if args.rounds > 1 or (len(args.votes) == 1 and args.repeats == 1 and not args.pairing and not args.variant):
        return single_runs(args)
    for pairing in args.pairing or []:
        if problem := pairing_problem(pairing):
            parser.error(f"--pairing {pairing}: {problem}")
    variants = {"default": args.config} | {name: args.config | extra for name, extra in args.variant or []}
    results = json.loads(args.out.read_text()) if args.out and args.out.exists() else []
    args.votes = sorted(args.votes)
    for r in results:
        variant = r.get("variant", "default")
        if variant in variants and r.get("config", {}) != variants[variant]:
            parser.error(f"{args.out} holds runs of variant {variant} with other settings: use another --out")
        if r["eval_pairs"] != args.eval_pairs:
            parser.error(f"{args.out} holds runs judged on {r['eval_pairs']} pairs, not {args.eval_pairs}")
        # With +promote or +chain what serves (and trains on) at a budget depends on the budgets before it.
        served_varies = "promote" in r["pairing"] or "chain" in r["pairing"]
        if served_varies and r["pairing"] in (args.pairing or []) and r.get("budgets") != args.votes:
            parser.error(f"{args.out} holds {r['pairing']} runs over budgets {r.get('budgets')}, not {args.votes}")
    done = {(r["policy"], r["pairing"], r.get("variant", "default"), r["seed"], r["votes"]) for r in results}
    # Seed-major: a run stopped early still holds every strategy at the same number of repeats.
    for name in args.policy or ["larger", "smaller"]:
        for seed in range(args.repeats):
            for pairing in args.pairing or ["random"]:
                if all((name, pairing, v, seed, b) in done for v in variants for b in args.votes):
                    continue  # measured by an earlier invocation with this --out: resume after it
                print(f"policy {name!r} ({get_policy(name).description}), pairing {pairing}, seed {seed}", flush=True)
                runs = run_budgets(name, args.votes, pairing, seed, variants, args.eval_pairs, args.keep)
                redone = (name, pairing, seed)  # this run's rows replace only what it measured again
                results = [r for r in results if (r["policy"], r["pairing"], r["seed"]) != redone
                           or r.get("variant", "default") not in variants or r["votes"] not in args.votes]  # fmt: skip
                results += runs
                if args.out:
                    args.out.write_text(json.dumps(results, indent=1, default=str))
    wanted = set(args.policy or ["larger", "smaller"]), set(args.pairing or ["random"]), set(args.votes)
    print_report([r for r in results if r["policy"] in wanted[0] and r["pairing"] in wanted[1]
                  and r["votes"] in wanted[2] and r.get("variant", "default") in variants])  # fmt: skip


def promotion_runs(args) -> None:
    """--promotion: per policy, --repeats runs of --rounds rounds of --votes votes (resumes --out)."""
    from loop_promotion import report, run_promotion

    results = json.loads(args.out.read_text()) if args.out and args.out.exists() else []
    done = {(r["policy"], r["seed"]) for r in results if r.get("mode") == "promotion"}
    for seed in range(args.repeats):  # seed-major: a run stopped early has every policy at the same repeats
        for name in args.policy or ["larger", "smaller"]:
            if (name, seed) in done:
                continue
            print(f"policy {name!r} ({get_policy(name).description}), promotion, seed {seed}", flush=True)
            results.append(run_promotion(name, seed, args.votes[0], args.rounds, args.config, args.eval_pairs,
                                         args.keep))  # fmt: skip
            if args.out:
                args.out.write_text(json.dumps(results, indent=1, default=str))
    report([r for r in results if r.get("mode") == "promotion"])


def single_runs(args) -> None:
    results = []
    for name in args.policy or ["larger", "smaller"]:
        print(f"policy {name!r}: {get_policy(name).description}", flush=True)
        started = time.monotonic()
        result = run_policy(name, args.votes[0], args.rounds, args.config, args.eval_pairs, args.keep)
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
