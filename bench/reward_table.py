"""The reward bench's table for docs/benchmarks.md: one policy's results file (loop_efficacy.py with the
`reward` variant) as a Markdown block between markers, written in place of the policy's earlier block, or
before the next section the first time.

    .venv/bin/python bench/reward_table.py smaller "2026-12-07 (seeds 0–2)"
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.loop_stats import paired_differences, summarize  # noqa: E402

DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
BEFORE = "\n### Promotion by the labelers' verdict"  # the section after the reward bench's
BUDGETS = (100, 200, 400)
GOAL = 0.8


def _markers(policy: str) -> tuple[str, str]:
    return f"<!-- reward bench: {policy} -->", f"<!-- /reward bench: {policy} -->"


def _cell(row: dict) -> str:
    q1, q3 = row["iqr"]
    per_run = " ".join(f"{w}/{lo}/{t}" for w, lo, t in row["runs"])
    return f"{row['median']:.1%} ({q1:.1%}–{q3:.1%}); {per_run}"


def _gate(row: dict) -> str:
    return f"{row['judge_passed']}/{row['judged']}" if row["judged"] else "–"


def block(policy: str, results: list[dict], dates: str, path: str, repeats: int = 5) -> str:
    """The Markdown block: per budget the median (IQR) and W/L/T per seed with and without reward pairs,
    their paired differences, how many rounds kept prompt-following within the gate, and the two goals."""
    rows = {(r["pairing"], r["votes"]): r for r in summarize(results)}
    diffs = {d["votes"]: d for d in paired_differences(results)}
    seeds = sorted({r["seed"] for r in results})
    runs = f"{len(seeds)} runs" if len(seeds) >= repeats else f"{len(seeds)} of {repeats} runs so far"
    begin, end = _markers(policy)
    lines = [begin, "", f'**"{policy}"**, {dates}, {runs} (`{path}`): the same measures; "gate" counts the '
             "rounds whose prompt-following stayed within the gate.", "",
             "| votes | votes only | gate | with 256 reward pairs | gate | reward − votes only, same votes, per seed |",
             "| --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    for votes in BUDGETS:
        plain, reward, d = rows[("random", votes)], rows[("random/reward", votes)], diffs[votes]
        each = " ".join(f"{x:+.1%}" for x in d["differences"])
        lines.append(f"| {votes} | {_cell(plain)} | {_gate(plain)} | {_cell(reward)} | {_gate(reward)} | "
                     f"median {d['median_difference']:+.1%}, better in {d['better']} of {d['repeats']} ({each}) |")
    reward_200, plain_400 = rows[("random/reward", 200)]["median"], rows[("random", 400)]["median"]
    best = max(r["median"] for r in rows.values())
    accuracy = sorted(r["reward_model"]["held_out_accuracy"] for r in results if r.get("reward_model"))
    seconds = sorted(r["generation_s_per_vote"] for r in rows.values())
    lines += ["", f"The reward variant at 200 ({reward_200:.1%}) is "
              f"{'below' if reward_200 < plain_400 else 'at or above'} votes-only at 400 ({plain_400:.1%}); the best "
              f"median is {best:.1%}{f' (below the {GOAL:.0%} goal)' if best < GOAL else ''}. Preference model "
              f"held-out accuracy {accuracy[0]:.2f}–{accuracy[-1]:.2f}; generation {seconds[0]:.2f}–"
              f"{seconds[-1]:.2f} s per human vote."
              + ("" if len(seeds) >= repeats else f" Fewer than {repeats} runs are no finding yet: on \"larger\" the "
                 "spread between runs was as wide as these differences."), "", end]  # fmt: skip
    return "\n".join(lines)


def put_in(docs: str, policy: str, text: str) -> str:
    """docs with the policy's block replaced by text (or inserted before BEFORE the first time)."""
    begin, end = _markers(policy)
    if begin in docs:
        return docs[: docs.index(begin)] + text + docs[docs.index(end) + len(end) :]
    if BEFORE not in docs:
        raise SystemExit(f"{DOCS} has no {BEFORE.strip()!r} to put the block before")
    return docs.replace(BEFORE, "\n" + text + "\n" + BEFORE, 1)


def main(policy: str, dates: str) -> None:
    path = f"bench/results/loop-reward-{policy}.json"
    results = json.loads((DOCS.parent.parent / path).read_text())
    text = block(policy, results, dates, path)
    DOCS.write_text(put_in(DOCS.read_text(), policy, text))
    print(text)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    main(sys.argv[1], sys.argv[2])
