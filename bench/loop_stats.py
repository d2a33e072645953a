"""The loop bench's figures over repeats: distributions per policy, strategy, variant and vote
budget; the labeler's decisive share; votes to a target; paired differences between training
variants on the same votes."""

from __future__ import annotations

import statistics

from worker.rounds.gate import at_least  # the gate's own comparison, float error tolerated at the limit


def label(run: dict) -> str:
    """A run's series: its pairing, and its training variant unless that is the default."""
    variant = run.get("variant", "default")
    return run["pairing"] if variant == "default" else f"{run['pairing']}/{variant}"


def summarize(results: list[dict]) -> list[dict]:
    """Per policy, series and budget: the distribution over repeats (a tie counts half)."""
    groups: dict[tuple, list[dict]] = {}
    for r in results:
        groups.setdefault((r["policy"], label(r), r["votes"]), []).append(r)
    rows = []
    for (policy, series, votes), runs in sorted(groups.items()):
        rates = sorted(r["win_rate"] for r in runs)
        q1, _, q3 = statistics.quantiles(rates, n=4, method="inclusive") if len(rates) > 1 else (rates[0],) * 3
        wins, losses, ties = (sum(r[k] for r in runs) for k in ("wins", "losses", "ties"))
        rows.append({"policy": policy, "pairing": series, "votes": votes, "repeats": len(runs),
                     "median": statistics.median(rates), "iqr": (q1, q3), "wins": wins, "losses": losses,
                     "ties": ties, "decided_won": wins / max(1, wins + losses),
                     "generation_s_per_vote": statistics.median(r.get("generation_s_per_vote", 0.0) for r in runs),
                     "labeler_decisive": _median_or_none([labeler_decisive(r) for r in runs]),
                     "judge_change": _median_or_none([judge_change(r) for r in runs]),
                     "judge_passed": sum(judge_passed(r) is True for r in runs),
                     "judged": sum(judge_passed(r) is not None for r in runs),
                     "reward_accuracy": _median_or_none([reward_accuracy(r) for r in runs]),
                     "reward_pairs_used": _median_or_none([reward_pairs_used(r) for r in runs]),
                     "runs": [(r["wins"], r["losses"], r["ties"]) for r in runs]})  # fmt: skip
    return rows


def labeler_decisive(run: dict) -> float | None:
    """Of the simulated labeler's answered votes up to this budget (passes left out), the share that named
    a winner: the votes a round trains on. Ties and both-bad cost a labeler's time and teach nothing,
    so a strategy that picks better pairs shows it here first. None for runs that did not record it."""
    choices = run.get("choices") or {}
    answered = sum(n for choice, n in choices.items() if choice != "skip")
    return (choices.get("left", 0) + choices.get("right", 0)) / answered if answered else None


def judge_change(run: dict) -> float | None:
    """The prompt-following judge's mean score on the fixed evaluation set, checkpoint minus the base
    (recorded by the run; older runs: minus the checkpoint it was trained from, which was the base);
    None when the round had no judge. (The gate's bar is the better of the parent and the base, so a
    small drop here can still fail the gate in a chain of rounds: judge_passed says.)"""
    round_out = run.get("round") or {}
    before = run.get("judge_score_base", round_out.get("judge_score_parent"))
    if round_out.get("judge_score") is None or before is None:
        return None
    return round_out["judge_score"] - before


def reward_accuracy(run: dict) -> float | None:
    """The held-out accuracy of the preference model version the run's reward variants used, if any."""
    return (run.get("reward_model") or {}).get("held_out_accuracy")


def reward_pairs_used(run: dict) -> int | None:
    """Pairs the preference model labelled for this run's round (None without the source "reward")."""
    return (((run.get("round") or {}).get("reward_pairs")) or {}).get("used")


def judge_passed(run: dict) -> bool | None:
    """Did the checkpoint keep within the drop the gate allows? None when the round had no judge.
    Decided again from the recorded value and limit with the gate's slack: runs recorded before the
    gate had it failed a score exactly at the limit by its last bit."""
    rule = (((run.get("round") or {}).get("gate") or {}).get("rules") or {}).get("judge")
    if rule is None:
        return None
    if isinstance(rule.get("value"), float) and isinstance(rule.get("limit"), float):
        return at_least(rule["value"], rule["limit"])
    return bool(rule["passed"])


def _median_or_none(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def votes_to_reach(rows: list[dict], target: float = 0.75) -> dict[tuple[str, str], float | None]:
    """Votes at which the median win rate first reaches target, linear between the budgets around it."""
    reach = {}
    for key in {(r["policy"], r["pairing"]) for r in rows}:
        curve = sorted((r["votes"], r["median"]) for r in rows if (r["policy"], r["pairing"]) == key)
        reach[key] = None
        for i, (votes, median) in enumerate(curve):
            if median >= target:
                if i == 0:
                    reach[key] = float(votes)
                else:
                    (v0, m0) = curve[i - 1]
                    reach[key] = v0 + (target - m0) / (median - m0) * (votes - v0)
                break
    return reach


def paired_differences(results: list[dict], baseline: str = "default") -> list[dict]:
    """Each training variant against the baseline variant trained on the very same votes (same policy,
    pairing, seed and budget): the per-repeat differences in win rate, which leave out the spread that
    the drawn pairs put into both."""
    by_key = {(r["policy"], r["pairing"], r["seed"], r["votes"], r.get("variant", "default")): r for r in results}
    groups: dict[tuple, list[float]] = {}
    for (policy, pairing, seed, votes, variant), run in sorted(by_key.items()):
        base = by_key.get((policy, pairing, seed, votes, baseline))
        if variant != baseline and base is not None:
            groups.setdefault((policy, pairing, variant, votes), []).append(run["win_rate"] - base["win_rate"])
    return [{"policy": policy, "pairing": pairing, "variant": variant, "votes": votes, "repeats": len(diffs),
             "median_difference": statistics.median(diffs), "better": sum(d > 0 for d in diffs),
             "worse": sum(d < 0 for d in diffs), "differences": diffs}
            for (policy, pairing, variant, votes), diffs in sorted(groups.items())]  # fmt: skip


def _judge_columns(row: dict) -> str:
    """The judge's median change and passes of the judged rounds, or n/a where no round had a judge."""
    if row["judged"] == 0:
        return f"{'n/a':>7}  {'n/a':>8}"
    return f"{row['judge_change']:+7.3f}  {row['judge_passed']:4}/{row['judged']:<3}"


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def print_report(results: list[dict], baseline: str = "default") -> None:
    rows = summarize(results)
    print("\npolicy    series                votes  runs  median  IQR            W / L / T (all runs)  decided won  "
          "voted decisive  gen s/vote  judge Δ  judge ok  per run W/L/T")  # fmt: skip
    for r in rows:
        q1, q3 = r["iqr"]
        per_run = " ".join(f"{w}/{lo}/{t}" for w, lo, t in r["runs"])
        print(f"{r['policy']:9} {r['pairing']:21} {r['votes']:5}  {r['repeats']:4}  {r['median']:6.1%}  "
              f"{q1:5.1%}–{q3:5.1%}  {r['wins']:5} / {r['losses']:4} / {r['ties']:4}   {r['decided_won']:9.1%}  "
              f"{_share(r['labeler_decisive']):>14}  {r['generation_s_per_vote']:10.2f}  {_judge_columns(r)}  "
              f"{per_run}")  # fmt: skip
    for r in rows:
        if r["reward_accuracy"] is not None:
            used = "n/a" if r["reward_pairs_used"] is None else f"{r['reward_pairs_used']:.0f}"
            print(f"{r['policy']}/{r['pairing']} at {r['votes']} votes: preference model held-out accuracy "
                  f"{r['reward_accuracy']:.1%} (median), reward pairs used {used} (median)")  # fmt: skip
    for (policy, series), votes in sorted(votes_to_reach(rows).items()):
        print(f"votes to a 75% median, {policy}/{series}: " + ("not reached" if votes is None else f"{votes:.0f}"))
    for d in paired_differences(results, baseline):
        diffs = " ".join(f"{x:+.1%}" for x in d["differences"])
        print(f"{d['policy']}/{d['pairing']} at {d['votes']} votes, {d['variant']} − {baseline} on the same votes: "
              f"median {d['median_difference']:+.1%}, better in {d['better']}, worse in {d['worse']} of "
              f"{d['repeats']} ({diffs})")  # fmt: skip
