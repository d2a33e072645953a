"""Export and import throughput, images included: rows per second on this machine (SQLite).

An install with N voted comparisons (scene renders as images, their latents on disk) is exported
(pairs with image bytes; then with --latents), and the export is imported into a fresh install
twice: with the stored latents (no encoding) and with the images re-encoded by the VAE (latents
columns dropped). Baseline in the same process: pyarrow writing the same rows from memory, the
floor under any export.

Run: .venv/bin/python bench/data_io.py [--rows 2000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import pyarrow.parquet as pq  # noqa: E402


def use_install(work: Path, name: str) -> None:
    from core.db.migrate import upgrade
    from core.settings import get_settings

    os.environ.update(DPOLOOP_DATABASE_URL=f"sqlite:///{work / f'{name}.sqlite3'}", DPOLOOP_DATA_DIR=str(work / name),
                      DPOLOOP_CELERY_BROKER_URL="memory://", DPOLOOP_IMPORT_ROOT=str(work))  # fmt: skip
    get_settings.cache_clear()
    get_settings().ensure_dirs()
    upgrade()


def voted_install(rows: int) -> None:
    """`rows` comparisons with real images and latents, each with one decisive vote."""
    import numpy as np
    from sqlalchemy import insert, select

    from core.db.models import Comparison, Generation, Vote
    from core.db.session import session_scope
    from core.repo.labelers import create_labeler
    from core.settings import get_settings
    from tests.helpers.data import make_comparisons

    ids = make_comparisons(rows)
    settings, rng = get_settings(), np.random.default_rng(0)
    with session_scope() as session:
        labeler, _ = create_labeler(session, "bench")
        pairs = session.execute(select(Comparison.id, Comparison.generation_a_id, Comparison.generation_b_id)
                                .where(Comparison.id.in_(ids))).all()  # fmt: skip
        for path in session.scalars(select(Generation.latents_path)):
            np.save(settings.latents_dir / path, rng.standard_normal((4, 16, 16)).astype(np.float32))
        now = datetime.now(UTC)
        session.execute(insert(Vote), [
            {"comparison_id": c, "labeler_id": labeler.id, "choice": "left", "left_generation_id": a,
             "winner_generation_id": a, "decision_ms": 900, "created_at": now} for c, a, _ in pairs])  # fmt: skip


def timed(label: str, rows: int, action, baseline: float | None = None) -> float:
    started = time.perf_counter()
    action()
    seconds = time.perf_counter() - started
    ratio = f"  ({seconds / baseline:.1f}× the baseline)" if baseline else ""
    print(f"{label:58} {rows / seconds:8.0f} rows/s  {seconds:6.2f} s{ratio}", flush=True)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dpoloop-data-bench-"))
    use_install(work, "a")
    voted_install(args.rows)

    from core.queue import sending_to
    from core.services import imports
    from core.services.export import ExportCounts, ExportFilter, pair_rows, pair_schema, write_export
    from core.settings import get_settings
    from worker.imports.run import run_import

    settings = get_settings()
    in_memory = list(pair_rows(settings, ExportFilter(), ExportCounts()))
    import pyarrow as pa

    print(f"{args.rows} voted comparisons, images {sum(len(r['jpg_0']) for r in in_memory) // len(in_memory)} B each")
    table = pa.Table.from_pylist(in_memory, schema=pair_schema(False))
    base = timed("baseline: pyarrow writes the rows from memory", args.rows,
                 lambda: pq.write_table(table, work / "floor.parquet"))  # fmt: skip
    timed("export (pairs with images, votes parquet + csv)", args.rows,
          lambda: write_export(settings, work / "export", ExportFilter()), base)  # fmt: skip
    timed("export --latents", args.rows,
          lambda: write_export(settings, work / "export-latents", ExportFilter(latents=True)), base)  # fmt: skip

    def import_into(name: str, path: Path) -> None:
        use_install(work, name)
        with sending_to(lambda task, task_args: None):
            set_id = imports.start_import(path, name).id
        run_import(set_id, get_settings())
        assert imports.get_set(name).counts["added"] == args.rows, imports.get_set(name).counts

    timed("import of the export --latents (stored latents)", args.rows,
          lambda: import_into("b", work / "export-latents"))  # fmt: skip
    timed("import re-encoding the images (VAE)", args.rows, lambda: import_into("c", work / "export"))
    print(f"(work dir {work})")


if __name__ == "__main__":
    main()
