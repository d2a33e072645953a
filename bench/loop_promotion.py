"""The loop's promotion as production runs it (DPOLOOP_PROMOTION=labelers): rounds train on the
simulated labeler's votes, a checkpoint that passes the gate becomes a candidate, the same labeler is
served its blind same-seed evaluation pairs first and votes on them like on any pair, and the
verdict (core/verdict.py) promotes, rejects or gives up at the cap. Afterwards the policy judges each
promoted checkpoint against the one it replaced on fresh same-seed pairs: a promotion that made the
served model worse shows up there.

Run through bench/loop_efficacy.py --promotion (see there); figures per policy over the repeats.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter

import httpx

from core.settings import Settings

JUDGE_SEED = 190_000  # the after-the-fact judge's seeds: far from anything the install draws


def labeler_votes_until_decided(base: str, token: str, policy, headers: dict, checkpoint_id: int,
                                max_votes: int, on_vote) -> tuple[dict, Counter, int]:  # fmt: skip
    """The labeler votes (on whatever the pool serves: the candidate's evaluation pairs come first)
    until the candidacy of `checkpoint_id` is decided; (its candidate object, choices, votes cast)."""
    from worker.scenes.simulate import simulate_labeler

    choices, cast = Counter(), 0
    while True:
        candidate = checkpoint(base, headers, checkpoint_id)["candidate"]
        if candidate is None or candidate["state"] != "judging" or cast >= max_votes:
            return candidate, choices, cast
        labelled = simulate_labeler(base, token, policy, 5, patience_s=600, on_vote=on_vote)
        cast += labelled.votes
        choices.update(labelled.choices)


def checkpoint(base: str, headers: dict, checkpoint_id: int) -> dict:
    response = httpx.get(f"{base}/api/v1/checkpoints/{checkpoint_id}", headers=headers)
    response.raise_for_status()
    return response.json()


def judge_against(settings: Settings, new: dict, old: dict, prompts: list[str], pairs: int, policy) -> dict:
    """Same-seed pairs of two registry checkpoints (paths as the registry stores them) on the held-out
    prompts; the policy votes with the new one on the left. A tie or both-bad counts half."""
    import torch

    from core.paths import resolve_stored
    from core.schemas.generation import GenerationParams
    from core.win_rate import wilson
    from worker.generation.generator import Generator

    torch.set_num_threads(2)
    requests = [GenerationParams(prompt=prompts[i % len(prompts)], seed=JUDGE_SEED + i, num_inference_steps=20,
                                 guidance_scale=4.0) for i in range(pairs)]  # fmt: skip
    images = []
    for side in (new, old):
        generator = Generator(settings.base_model)
        if side.get("path"):
            folder = str(resolve_stored(settings.data_dir, side["path"]))
            generator.load_denoiser(folder) if side["kind"] == "full" else generator.load_lora(folder)
        images.append([r.image for s in range(0, pairs, 16) for r in generator.generate(requests[s : s + 16])])
    outcome = Counter(policy.choose(a, b, r.prompt) for r, a, b in zip(requests, *images, strict=True))
    ties = outcome["tie"] + outcome["both_bad"]
    wins = outcome["left"] + 0.5 * ties
    return {"pairs": pairs, "wins": outcome["left"], "losses": outcome["right"], "ties": ties,
            "win_rate": wins / pairs, "ci95": wilson(wins, pairs)}  # fmt: skip


def run_promotion(policy_name: str, seed: int, votes: int, rounds: int, config: dict, eval_pairs: int,
                  keep: bool) -> dict:  # fmt: skip
    """One run: `rounds` times, `votes` votes then a round; each gated checkpoint judged by the labeler
    to its verdict; then every promotion judged by the policy against what it replaced."""
    import shutil

    from loop_efficacy import _bench_env, _progress, _start, run_round, stop_services

    from worker.scenes.policies import get_policy

    # Evaluation pairs on (the verdict needs them); gold off as in the other modes; no schedule.
    env = _bench_env("random", {"DPOLOOP_PROMOTION": "labelers", "DPOLOOP_EVAL_SEEDS_PER_PROMPT": "2",
                                "DPOLOOP_ROUND_START_FROM": "active"})  # fmt: skip
    data_dir, settings, held_out, processes, base, token, headers = _start(
        f"dpoloop-bench-promotion-{policy_name}-{seed}-", env
    )
    policy = get_policy(policy_name)
    candidates, choices = [], Counter()
    try:
        for index in range(rounds):
            from worker.scenes.simulate import simulate_labeler

            labelled = simulate_labeler(base, token, policy, votes, patience_s=600, on_vote=_progress)
            choices.update(labelled.choices)
            out = run_round(base, headers, config | {"seed": seed}, processes)
            entry = {"round": index + 1, "checkpoint": out["checkpoint"], "gate": (out["gate"] or {}).get("passed"),
                     "state": "gate_failed", "eval_votes": 0}  # fmt: skip
            if entry["gate"]:
                started = time.monotonic()
                candidate, eval_choices, cast = labeler_votes_until_decided(
                    base, token, policy, headers, out["checkpoint"], settings.verdict_max_votes * 3, _progress
                )
                choices.update(eval_choices)
                entry |= {"state": candidate["state"] if candidate else "none", "serving": candidate["serving_id"],
                          "eval_votes": candidate["wins"] + candidate["losses"] + candidate["ties"],
                          "verdict": candidate, "votes_cast_while_judging": cast,
                          "judging_seconds": time.monotonic() - started}  # fmt: skip
            print(f"  {policy_name} seed {seed} round {index + 1}: {entry['state']} after {entry['eval_votes']} "
                  f"evaluation votes", flush=True)  # fmt: skip
            candidates.append(entry)
        registry = {c["id"]: c for c in httpx.get(f"{base}/api/v1/checkpoints", headers=headers).json()}
    finally:
        stop_services(processes)
    for entry in candidates:  # every candidate, so a rejection can be checked too (and votes per true win rate)
        if entry["gate"] and entry.get("serving") is not None:
            new, old = registry[entry["checkpoint"]], registry[entry["serving"]]
            entry["judged"] = judge_against(settings, new, old, held_out, eval_pairs, policy)
            judged = entry["judged"]
            print(f"  checkpoint {new['id']} vs {old['id']}: {judged['wins']} W / {judged['losses']} L / "
                  f"{judged['ties']} T = {judged['win_rate']:.1%}", flush=True)  # fmt: skip
    if not keep:
        shutil.rmtree(data_dir, ignore_errors=True)
    return {"mode": "promotion", "policy": policy_name, "seed": seed, "votes": votes, "rounds": rounds,
            "config": config, "eval_pairs": eval_pairs, "choices": dict(choices), "candidates": candidates}  # fmt: skip


def worse(judged: dict) -> bool:
    """A promoted checkpoint the policy likes less than what it replaced (tie as half)."""
    return judged["win_rate"] < 0.5


def report(results: list[dict]) -> None:
    """Per policy over its runs: candidates promoted, rejected, undecided (and gate failures), evaluation
    votes per decision, and how many promotions the policy's judge found worse than their predecessor."""
    print("\npolicy    runs  gate-failed  promoted  rejected  undecided  eval votes/decision (median, max)  "
          "promoted worse (W/L/T each)")  # fmt: skip
    for policy in sorted({r["policy"] for r in results}):
        runs = [r for r in results if r["policy"] == policy]
        entries = [e for r in runs for e in r["candidates"]]
        states = Counter(e["state"] for e in entries)
        decided = [e["eval_votes"] for e in entries if e["state"] in ("promoted", "rejected")]
        spent = f"{statistics.median(decided):.0f}, {max(decided)}" if decided else "-"
        promoted = [e["judged"] for e in entries if e["state"] == "promoted"]
        better = [e["eval_votes"] for e in entries if e.get("judged") and e["judged"]["win_rate"] >= 0.65
                  and e["state"] != "undecided"]  # fmt: skip
        detail = " ".join(f"{j['wins']}/{j['losses']}/{j['ties']}" for j in promoted) or "-"
        print(f"{policy:9} {len(runs):4}  {states['gate_failed']:11}  {states['promoted']:8}  {states['rejected']:8}  "
              f"{states['undecided']:9}  {spent:>34}  {sum(worse(j) for j in promoted)} of {len(promoted)} "
              f"({detail})")  # fmt: skip
        if better:
            print(f"{'':9} decisions on candidates the judge puts at ≥ 65%: {len(better)}, median "
                  f"{statistics.median(better):.0f} evaluation votes, max {max(better)}")  # fmt: skip
        for e in entries:
            if e.get("judged") and e["state"] != "promoted":
                j = e["judged"]
                print(f"{'':9} {e['state']} checkpoint {e['checkpoint']}: judge {j['wins']}/{j['losses']}/{j['ties']} "
                      f"= {j['win_rate']:.1%} against what served")  # fmt: skip
    print("goal: 0 promoted checkpoints worse than their predecessor; median ≤ 150 evaluation votes per decision "
          "when the candidate's true win rate is ≥ 65%")  # fmt: skip
