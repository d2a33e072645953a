"""Does an imported preference file teach the model? A Pick-a-Pic-layout parquet file of N rows drawn
by the scene renderer (two renders of one caption: same colour, shape and background, size and
position free), labelled by a policy ("larger" prefers the larger object), is imported into a fresh
install, one round trains on `import:NAME` alone with the default settings, and the checkpoint is
judged against the base on the held-out shipped prompts, same seeds both sides, by the same policy
(bench/loop_efficacy.py's judge). Also printed: import and round throughput.

Run: .venv/bin/python bench/import_efficacy.py [--rows 2000] [--policy larger] [--repeats 3] [--pairs 128]
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from worker.scenes.policies import get_policy  # noqa: E402
from worker.scenes.render import render_scene  # noqa: E402
from worker.scenes.world import caption_for, sample_scene  # noqa: E402

LABELS = {"left": (1.0, 0.0), "right": (0.0, 1.0), "tie": (0.5, 0.5), "both_bad": (0.0, 0.0)}


def png(image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def build_file(path: Path, rows: int, policy, seed: int) -> dict:
    """Pairs of renders labelled by the policy, as a Pick-a-Pic v2 parquet file; returns the labels' counts."""
    rng = random.Random(seed)
    table, counts = [], {k: 0 for k in LABELS}
    for _ in range(rows):
        scene = sample_scene(rng)
        caption = caption_for(scene, with_size=False, with_position=False)
        images = [render_scene(sample_scene(rng, colour=scene.colour, shape=scene.shape, background=scene.background))
                  for _ in range(2)]  # fmt: skip
        choice = policy.choose(images[0], images[1], caption)
        counts[choice] += 1
        label_0, label_1 = LABELS[choice]
        table.append({"caption": caption, "jpg_0": png(images[0]), "jpg_1": png(images[1]), "label_0": label_0,
                      "label_1": label_1})  # fmt: skip
    pq.write_table(pa.Table.from_pylist(table), path)
    return counts


def one_run(rows: int, policy_name: str, seed: int, pairs: int) -> dict:
    work = Path(tempfile.mkdtemp(prefix="dpoloop-import-bench-"))
    os.environ.update(DPOLOOP_DATABASE_URL=f"sqlite:///{work / 'db.sqlite3'}", DPOLOOP_DATA_DIR=str(work / "data"),
                      DPOLOOP_IMPORT_ROOT=str(work),
                      DPOLOOP_CELERY_BROKER_URL="memory://", DPOLOOP_DPO_OVERRIDES=f'{{"seed": {seed}}}')  # fmt: skip
    from loop_efficacy import HELD_OUT, judge
    from sqlalchemy import select

    from core.db.migrate import upgrade
    from core.db.models import Checkpoint, Prompt
    from core.db.session import session_scope
    from core.queue import sending_to
    from core.services import imports, rounds
    from core.services.prompts import seed_shipped_prompts
    from core.settings import get_settings
    from core.states import RoundTrigger
    from worker.imports.run import run_import
    from worker.rounds.run import run_round

    get_settings.cache_clear()
    settings = get_settings()
    settings.ensure_dirs()
    upgrade()
    seed_shipped_prompts()
    with session_scope() as session:
        held_out = random.Random(0).sample(list(session.scalars(select(Prompt.text).order_by(Prompt.id))), HELD_OUT)
    policy = get_policy(policy_name)

    started = time.perf_counter()
    labels = build_file(work / "picks.parquet", rows, policy, seed)
    built_s = time.perf_counter() - started
    with sending_to(lambda name, args: None):
        set_id = imports.start_import(work / "picks.parquet", "picks").id
    started = time.perf_counter()
    run_import(set_id, settings)
    import_s = time.perf_counter() - started
    imported = imports.get_set("picks")
    with sending_to(lambda name, args: None):
        round_id = rounds.start_round(settings, RoundTrigger.admin, {"sources": ["import:picks"]}).id
    started = time.perf_counter()
    run_round(round_id)
    train_s = time.perf_counter() - started
    row, _ = rounds.get_round(round_id)
    with session_scope() as session:
        made = session.get(Checkpoint, row.checkpoint_id)
        checkpoint = {"kind": made.kind.value, "path": made.path}
    verdict = judge(settings, checkpoint, held_out, pairs, policy)
    return {"seed": seed, "labels": labels, "build_s": built_s, "import_s": import_s, "rows": rows,
            "added": imported.counts.get("added", 0), "round_state": row.state.value, "train_s": train_s,
            "gate": (row.metrics or {}).get("held_out_implicit_accuracy"), **verdict}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--policy", default="larger")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pairs", type=int, default=128, help="same-seed pairs judged against the base")
    args = parser.parse_args()
    results = []
    for repeat in range(args.repeats):
        result = one_run(args.rows, args.policy, seed=repeat, pairs=args.pairs)
        results.append(result)
        print(f"seed {repeat}: labels {result['labels']}; imported {result['added']} pairs of {result['rows']} rows "
              f"in {result['import_s']:.1f} s ({result['rows'] / result['import_s']:.0f} rows/s; building the file "
              f"{result['build_s']:.1f} s); round {result['round_state']} in {result['train_s']:.0f} s; vs base: "
              f"{result['wins']} wins / {result['losses']} losses / {result['ties']} ties = {result['win_rate']:.1%} "
              f"(95% CI {result['ci95'][0]:.0%}–{result['ci95'][1]:.0%})", flush=True)  # fmt: skip
    rates = sorted(r["win_rate"] for r in results)
    print(f"\n{args.policy}, {args.rows} rows, {args.repeats} repeats: median win rate {statistics.median(rates):.1%} "
          f"(min {rates[0]:.1%}, max {rates[-1]:.1%}); wins/losses/ties per run: "
          f"{[(r['wins'], r['losses'], r['ties']) for r in results]}")  # fmt: skip


if __name__ == "__main__":
    main()
