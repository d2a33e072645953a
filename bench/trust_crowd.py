"""Does quality control pay? A simulated crowd labels the pool through the REST API while gold pairs
are mixed in: 8 honest labelers (the "larger" policy, 90% consistent: one vote in ten is a random
choice), 2 that click left every time and 1 that answers at random. Then:
1. the quality report must flag the 3 bad labelers (gold accuracy, side bias) and no honest one;
2. two rounds from the base on the same snapshot: one on the votes of labelers in good standing
   (the default), one on every vote (an admin override marks everyone good), each judged against
   the base on the held-out prompts with the same seeds by the "larger" policy.

The stack runs as in production (API, generate and train workers, beat; SQLite and the file broker).
Run: .venv/bin/python bench/trust_crowd.py [--votes 600] [--repeats 1] [--pairs 128] [--gold-rate 0.25]
     [--crowd honest=8,left-clicker=2,random=1] [--gold-only]
--gold-only stops after the quality report: how many gold answers each labeler gave (gold pool
settings at their production defaults).

The gold rate decides how many gold answers each labeler gives: 54 votes each at 15% gave ~8, and
a random labeler's 3 of 7 has a 95% interval (16–75%) that reaches the 70% floor, so it was not
flagged; at 25% each gives ~13.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import threading
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from loop_efficacy import fresh_install, judge, run_round, start_services, stop_services, wait_healthy  # noqa: E402

from worker.scenes.policies import get_policy  # noqa: E402

CROWD = "honest=8,left-clicker=2,random=1"
CHOICES = ["left", "right", "tie", "both_bad", "skip"]


class Noisy:
    """A policy followed `consistency` of the time, a random answer otherwise."""

    def __init__(self, policy, consistency: float, seed: int):
        self.policy, self.consistency, self.rng = policy, consistency, random.Random(seed)

    def choose(self, left, right, prompt: str) -> str:
        if self.rng.random() < self.consistency:
            return self.policy.choose(left, right, prompt)
        return self.rng.choice(CHOICES[:4])


class Always:
    def __init__(self, choice: str):
        self.choice = choice

    def choose(self, left, right, prompt: str) -> str:
        return self.choice


class Random:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)

    def choose(self, left, right, prompt: str) -> str:
        return self.rng.choice(CHOICES)


def crowd_policy(kind: str, index: int, seed: int):
    if kind == "honest":
        return Noisy(get_policy("larger"), 0.9, seed * 100 + index)
    if kind == "left-clicker":
        return Always("left")
    return Random(seed * 100 + index)


def parse_crowd(text: str) -> list[tuple[str, int]]:
    crowd = [(kind, int(n)) for kind, n in (part.split("=") for part in text.split(","))]
    if any(kind not in ("honest", "left-clicker", "random") or n < 0 for kind, n in crowd):
        raise argparse.ArgumentTypeError(f"{text!r}: KIND=N,… with KIND honest, left-clicker or random")
    return crowd


def one_run(votes: int, seed: int, pairs: int, keep: bool, gold_rate: float, crowd: list[tuple[str, int]],
            gold_only: bool = False) -> dict:  # fmt: skip
    data_dir, port, env, settings, held_out = fresh_install("dpoloop-crowd-", {
        "DPOLOOP_POOL_TARGET": "64", "DPOLOOP_POOL_BATCH": "8", "DPOLOOP_AUTO_PROMOTE": "false",
        "DPOLOOP_PROMOTION": "gate",
        "DPOLOOP_EVAL_SEEDS_PER_PROMPT": "0", "DPOLOOP_GOLD_RATE": str(gold_rate),
        "DPOLOOP_DPO_OVERRIDES": json.dumps({"seed": seed})})  # fmt: skip
    from core.services.labelers import create_labeler
    from worker.scenes.simulate import simulate_labeler

    members = [(f"{kind}-{i}", kind, crowd_policy(kind, i, seed)) for kind, n in crowd for i in range(n)]
    tokens = {name: create_labeler(name)[1] for name, _, _ in members}
    _, admin_token = create_labeler("admin", admin=True)
    headers = {"Authorization": f"Bearer {admin_token}"}
    logs = data_dir / "logs"
    logs.mkdir()
    processes = start_services(env, settings, logs)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base)
        share = votes // len(members)
        started = time.monotonic()
        threads = [threading.Thread(target=simulate_labeler, args=(base, tokens[name], policy, share),
                                    kwargs={"patience_s": 600}) for name, _, policy in members]  # fmt: skip
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        print(f"  {share * len(members)} votes in {time.monotonic() - started:.0f} s", flush=True)
        report = httpx.get(f"{base}/api/v1/admin/labelers/quality", headers=headers).json()
        rows = {r["name"]: r for r in report if r["name"] in tokens}
        flagged = sorted(name for name, r in rows.items() if not r["good_standing"])
        for name, r in sorted(rows.items()):
            verdict = "good" if r["good_standing"] else "FLAGGED: " + "; ".join(r["reasons"])
            print(f"  {name:15} gold {r['gold_correct']}/{r['gold_votes']}  left {r['side_bias'] or 0:.0%}  "
                  f"agree {r['agreement'] or 0:.0%}  {verdict}", flush=True)  # fmt: skip
        answers = sorted(r["gold_votes"] for r in rows.values())
        print(f"  gold answers per labeler after {share} votes each: min {answers[0]}, median "
              f"{answers[len(answers) // 2]}, max {answers[-1]}", flush=True)  # fmt: skip
        if gold_only:
            return {"seed": seed, "flagged": flagged, "gold_answers": answers}
        filtered = run_round(base, headers, {"start_from": 1})
        rounds_url = f"{base}/api/v1/admin/rounds/{filtered['round']}?after_step=1000000"
        filtered_row = httpx.get(rounds_url, headers=headers).json()
        for name in flagged:  # an admin vouches for everyone: the round trains on every vote
            labeler_url = f"{base}/api/v1/admin/labelers/{rows[name]['labeler_id']}"
            httpx.patch(labeler_url, headers=headers, json={"standing": "good"})
        everyone = run_round(base, headers, {"start_from": 1})
        checkpoints = {c["id"]: c for c in httpx.get(f"{base}/api/v1/checkpoints", headers=headers).json()}
    finally:
        stop_services(processes)
        if gold_only and not keep:
            shutil.rmtree(data_dir, ignore_errors=True)
    results = {}
    for label, made in (("good standing", filtered), ("all votes", everyone)):
        results[label] = judge(settings, checkpoints[made["checkpoint"]], held_out, pairs, get_policy("larger"))
        results[label]["pairs"] = made["pairs"]
    bad = sorted(name for name, kind, _ in members if kind != "honest")
    out = {"seed": seed, "flagged": flagged, "flagged_right": flagged == bad, "excluded_votes":
           filtered_row["counts"].get("votes_excluded_quality", 0), **results}  # fmt: skip
    if not keep:
        shutil.rmtree(data_dir, ignore_errors=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--votes", type=int, default=600)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--pairs", type=int, default=128)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--gold-rate", type=float, default=0.25)
    parser.add_argument("--crowd", type=parse_crowd, default=parse_crowd(CROWD), help=f"default {CROWD}")
    parser.add_argument("--gold-only", action="store_true", help="stop after the quality report (no rounds)")
    args = parser.parse_args()
    for repeat in range(args.repeats):
        r = one_run(args.votes, repeat, args.pairs, args.keep, args.gold_rate, args.crowd, args.gold_only)
        if args.gold_only:
            continue
        right = "exactly the 3 bad labelers" if r["flagged_right"] else "WRONG"
        print(f"seed {repeat}: flagged {r['flagged']} ({right}); the filtered round left out "
              f"{r['excluded_votes']} votes", flush=True)  # fmt: skip
        for label in ("good standing", "all votes"):
            j = r[label]
            print(f"  round on {label:13}: {j['pairs']} pairs; vs base {j['wins']} wins / {j['losses']} losses / "
                  f"{j['ties']} ties = {j['win_rate']:.1%} (95% CI {j['ci95'][0]:.0%}–{j['ci95'][1]:.0%})",
                  flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
