"""Two campaigns on one install, two groups of simulated labelers with different tastes: does each
campaign's adapter learn its own group's taste, without harming the other's, and what does a 50/50
blend of the two do?

Run: .venv/bin/python bench/campaign_efficacy.py [--policies larger left] [--repeats 3] [--votes 200]
         [--eval-pairs 128] [--config '{"steps": 200}'] [--out bench/results/campaigns.json]

Per run, as production runs it (API, generate worker, train worker and beat as separate processes on
SQLite and the file broker): `default` is closed to its assigned group, which votes by the first
policy ("larger"); a second campaign, named after the second policy ("left": the object further left),
has the same pool prompts and its own group, voting by that policy. Both groups vote at once, each on
its campaign's pairs; then one round per campaign trains on its own votes. Each resulting adapter, and
the blend of both at 0.5 each, is judged against the base by both policies on held-out prompts (same
seeds for both sides; a tie counts half). "Harmed" means the interval's top is below 0.45: a loss of
more than the gate's 0.05 tolerance on the other group's taste.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from loop_efficacy import _bench_env, fresh_install, run_round, start_services, stop_services, wait_healthy  # noqa: E402

from core.win_rate import wilson  # noqa: E402
from worker.scenes.policies import get_policy  # noqa: E402

GROUPS: dict[str, str] = {}  # campaign → its labelers' policy (set from --policies)
HARM_BELOW = 0.45  # a cross-policy interval top below this is a loss beyond the gate's 0.05 tolerance


def set_up_campaigns() -> dict[str, str]:
    """The second campaign with default's pool prompts; each campaign taken by one labeler of its own.
    Tokens by campaign."""
    from core.services import campaigns, labelers, prompts
    from core.states import PromptSource

    second = [c for c in GROUPS if c != "default"][0]
    campaigns.create(second, get_policy(GROUPS[second]).description, False, "bench")
    campaigns.update("default", None, False)  # closed: only its assigned group labels it
    pool = [u.prompt for u in prompts.list_prompts(limit=100_000)]
    prompts.add_prompts([p.text for p in pool if p.active and not p.for_eval], source=PromptSource.admin,
                        campaign=second)  # fmt: skip
    tokens = {}
    for campaign in GROUPS:
        labeler, tokens[campaign] = labelers.create_labeler(f"sim-{campaign}")
        campaigns.assign(campaign, labeler.id, 1.0, "bench")
    return tokens


def vote(base: str, tokens: dict[str, str], votes: int) -> dict:
    """Both groups at once, each on its campaign's pairs; their reports by campaign."""
    from worker.scenes.simulate import simulate_labeler

    reports, errors = {}, []

    def group(campaign: str) -> None:
        try:
            reports[campaign] = simulate_labeler(base, tokens[campaign], get_policy(GROUPS[campaign]), votes,
                                                 patience_s=300)  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - raised below, in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=group, args=(c,)) for c in GROUPS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return {c: {"votes": r.votes, "seconds": round(r.seconds), "choices": dict(r.choices)} for c, r in reports.items()}


def render(settings, adapters: dict[str, float], requests: list) -> list:
    """Images of the requests from the base wearing these LoRA folders at these weights (none: the base)."""
    from worker.generation.generator import Generator

    generator = Generator(settings.base_model)
    slots = {}
    for index, (folder, weight) in enumerate(adapters.items()):
        generator.hold_lora(generator.read_lora(folder), f"a{index}")
        slots[f"a{index}"] = weight
    generator.use_loras(slots, "bench")
    return [r.image for s in range(0, len(requests), 16) for r in generator.generate(requests[s : s + 16])]


def score(new: list, base: list, requests: list, policy_name: str) -> dict:
    policy = get_policy(policy_name)
    outcome = {"left": 0, "right": 0, "tie": 0, "both_bad": 0}
    for request, new_image, base_image in zip(requests, new, base, strict=True):
        outcome[policy.choose(new_image, base_image, request.prompt)] += 1
    pairs = len(requests)
    wins = outcome["left"] + 0.5 * (outcome["tie"] + outcome["both_bad"])
    low, high = wilson(wins, pairs)
    return {"wins": outcome["left"], "losses": outcome["right"], "ties": outcome["tie"] + outcome["both_bad"],
            "win_rate": wins / pairs, "ci95": (low, high)}  # fmt: skip


def one_run(seed: int, votes: int, eval_pairs: int, config: dict) -> dict:
    import torch

    from core.paths import resolve_stored
    from core.schemas.generation import GenerationParams
    from core.services.labelers import create_labeler

    data_dir, port, env, settings, held_out = fresh_install(f"dpoloop-campaigns-{seed}-", _bench_env("random"))
    tokens = set_up_campaigns()
    _, admin_token = create_labeler("admin", admin=True)
    headers = {"Authorization": f"Bearer {admin_token}"}
    (data_dir / "logs").mkdir()
    processes = start_services(env, settings, data_dir / "logs")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base)
        voted = vote(base, tokens, votes)
        print(f"  votes: {json.dumps(voted)}", flush=True)
        rounds = {c: run_round(base, headers, config, processes, campaign=c) for c in GROUPS}
        listed = {c["id"]: c for c in httpx.get(f"{base}/api/v1/checkpoints", headers=headers).json()}
    finally:
        stop_services(processes)

    torch.set_num_threads(2)
    requests = [GenerationParams(prompt=held_out[i % len(held_out)], seed=90_000 + i, num_inference_steps=20,
                                 guidance_scale=4.0) for i in range(eval_pairs)]  # fmt: skip
    folders = {c: str(resolve_stored(settings.data_dir, listed[r["checkpoint"]]["path"])) for c, r in rounds.items()}
    base_images = render(settings, {}, requests)
    looks = {c: {folders[c]: 1.0} for c in GROUPS} | {"blend 50/50": {f: 0.5 for f in folders.values()}}
    judged = {}
    for name, adapters in looks.items():
        images = render(settings, adapters, requests)
        judged[name] = {policy: score(images, base_images, requests, policy) for policy in GROUPS.values()}
        print(f"  {name}: " + ", ".join(f"{p} {j['win_rate']:.3f} ({j['wins']}/{j['losses']}/{j['ties']})"
                                         for p, j in judged[name].items()), flush=True)  # fmt: skip
    return {"seed": seed, "groups": dict(GROUPS), "votes": voted, "config": config, "rounds": rounds,
            "eval_pairs": eval_pairs, "judged": judged}


def report(runs: list[dict]) -> None:
    print(f"\n{len(runs)} runs; win rate against the base by each policy (W/L/T per run; tie = 1/2)")
    for look in runs[0]["judged"]:
        for policy in GROUPS.values():
            rates = [r["judged"][look][policy]["win_rate"] for r in runs]
            wlt = "; ".join(f"{j['wins']}/{j['losses']}/{j['ties']}" for j in (r["judged"][look][policy] for r in runs))
            harmed = sum(r["judged"][look][policy]["ci95"][1] < HARM_BELOW for r in runs)
            print(f"  {look:12} by {policy:7}: median {statistics.median(rates):.3f} (min {min(rates):.3f}, "
                  f"max {max(rates):.3f}); W/L/T {wlt}; harmed in {harmed} of {len(runs)}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policies", nargs=2, default=["larger", "left"], metavar=("DEFAULT", "SECOND"),
                        help="the two groups' policies; the second campaign is named after its policy")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--votes", type=int, default=200, help="votes per group (campaign)")
    parser.add_argument("--eval-pairs", type=int, default=128)
    parser.add_argument("--config", type=json.loads, default={}, help="DPO settings over the defaults (JSON)")
    parser.add_argument("--out", type=Path, help="every run's figures (JSON); an existing file is resumed")
    args = parser.parse_args()
    if args.policies[0] == args.policies[1]:
        parser.error("two different policies")
    GROUPS.update({"default": args.policies[0], args.policies[1]: args.policies[1]})
    runs = json.loads(args.out.read_text()) if args.out and args.out.exists() else []
    for seed in range(len(runs), args.repeats):
        print(f"run {seed + 1} of {args.repeats}", flush=True)
        runs.append(one_run(seed, args.votes, args.eval_pairs, args.config))
        if args.out:
            args.out.write_text(json.dumps(runs, indent=1, default=str))
    report(runs)


if __name__ == "__main__":
    main()
