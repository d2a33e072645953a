"""Labeling under an open-loop load, and the saturated throughput of one against two API processes.

Open loop: each simulated labeler acts every --every seconds (random phase), GET /comparisons/next
then POST the vote, whether or not the server kept up. Latency is measured from when the action was
due, not from when it could be sent (a server that falls behind shows it: no coordinated omission).
Reports per load: achieved votes/s against the offered rate, p50/p99 of both calls, errors.

Saturated: labelers that vote as fast as the server answers (bench/labeling.py's closed loop), with
`dpoloop api --workers 1` and then `--workers 2` in the same run; the ratio is the scaling figure.

The load generator runs on the same machine as the server (2 cores here): it is a bare asyncio
HTTP/1.1 client, a few percent of a core at these rates. Needs Postgres and Redis:
    eval "$(bash scripts/services.sh)" && .venv/bin/python bench/labeling_load.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.labeling import Connection, load, percentile  # noqa: E402
from tests.conftest import create_database, drop_database  # noqa: E402
from tests.helpers.stack import Service, dpoloop, free_port, service_env, wait_until  # noqa: E402


class Tally:
    def __init__(self):
        self.next_ms: list[float] = []
        self.vote_ms: list[float] = []
        self.votes = 0
        self.errors: dict[str, int] = {}

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


async def labeler(host: str, port: int, token: str, every: float, start: float, end: float, tally: Tally) -> None:
    conn = Connection(*await asyncio.open_connection(host, port), token)
    due = start + random.uniform(0, every)
    try:
        while due < end:
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            status, body = await conn.request("GET", "/api/v1/comparisons/next")
            tally.next_ms.append((time.perf_counter() - due) * 1e3)
            if status != 200:
                tally.error(f"GET next {status}")
            else:
                handle = json.loads(body)["id"]
                sent = time.perf_counter()
                status, _ = await conn.request("POST", f"/api/v1/comparisons/{handle}/vote", b'{"choice":"left"}')
                tally.vote_ms.append((time.perf_counter() - sent) * 1e3)
                if status == 201:
                    tally.votes += 1
                else:
                    tally.error(f"POST vote {status}")
            due += every
    except (ConnectionError, asyncio.IncompleteReadError) as exc:
        tally.error(type(exc).__name__)
    finally:
        conn.writer.close()


async def open_loop(base_url: str, tokens: list[str], every: float, seconds: float) -> dict:
    host, port = base_url.removeprefix("http://").split(":")
    tally = Tally()
    start = time.perf_counter() + 0.5  # every connection is open before the first action is due
    await asyncio.gather(*(labeler(host, int(port), t, every, start, start + seconds, tally) for t in tokens))
    elapsed = max(time.perf_counter(), start + seconds) - start
    return {
        "labelers": len(tokens), "offered votes/s": round(len(tokens) / every, 1),
        "votes/s": round(tally.votes / elapsed, 1),
        "GET next p50 ms": round(statistics.median(tally.next_ms), 1) if tally.next_ms else None,
        "GET next p99 ms": round(percentile(tally.next_ms, 0.99), 1) if tally.next_ms else None,
        "POST vote p50 ms": round(statistics.median(tally.vote_ms), 1) if tally.vote_ms else None,
        "POST vote p99 ms": round(percentile(tally.vote_ms, 0.99), 1) if tally.vote_ms else None,
        "errors": tally.errors,
    }  # fmt: skip


def start_profile(py_spy: str, pid: int, seconds: float, out: Path) -> subprocess.Popen:
    """py-spy sampling every API process (the parent's children) while a load runs: collapsed stacks of
    the threads holding the GIL, i.e. where the processes' Python time goes (threads waiting on Postgres
    or a socket are left out)."""
    return subprocess.Popen([py_spy, "record", "--pid", str(pid), "--subprocesses", "--duration", str(int(seconds)),
                             "--rate", "200", "--gil", "--format", "raw", "--output", str(out), "--nonblocking"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip


BUCKETS = (  # the first of these a stack's frames name, from the leaf up, is where its sample went
    ("json encode/decode", ("json/", "jsonable_encoder", "orjson")),
    ("pydantic", ("pydantic",)),
    ("SQLAlchemy ORM and core", ("sqlalchemy/orm", "sqlalchemy/sql", "sqlalchemy/engine")),
    ("psycopg (driver, waiting on Postgres)", ("psycopg",)),
    ("rate limits (Redis)", ("limits/", "redis/")),
    ("dpoloop code", ("/core/", "/app/")),
    ("FastAPI and Starlette", ("fastapi/", "starlette/")),
    ("uvicorn and h11 (HTTP)", ("uvicorn/", "h11/", "httptools")),
    ("asyncio and threads", ("asyncio/", "anyio/", "threading", "concurrent/")),
)


def summarise_profile(path: Path, top: int = 12) -> dict:
    """Where the API processes' samples went: by layer (the leaf-most frame that names one) and the
    functions that held the most samples themselves."""
    by_bucket, by_leaf, total = {}, {}, 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n, frames = int(count), stack.split(";")
        total += n
        leaf = frames[-1]
        by_leaf[leaf] = by_leaf.get(leaf, 0) + n
        bucket = next((name for frame in reversed(frames) for name, marks in BUCKETS
                       if any(m in frame for m in marks)), "other")  # fmt: skip
        by_bucket[bucket] = by_bucket.get(bucket, 0) + n
    share = lambda d: {k: round(100 * v / total, 1) for k, v in sorted(d.items(), key=lambda kv: -kv[1])}  # noqa: E731
    return {"samples": total, "by_layer_pct": share(by_bucket),
            "top_functions_pct": dict(list(share(by_leaf).items())[:top])}


def cpu_seconds(api_pid: int) -> dict[str, float]:
    """CPU seconds so far of the API processes, Postgres, Redis and this load generator (each process's
    user + system time); a difference of two of these says who used the two cores during a run."""
    import psutil

    api = {api_pid, *(c.pid for c in psutil.Process(api_pid).children(recursive=True))}
    totals = {"api": 0.0, "postgres": 0.0, "redis": 0.0, "load generator": 0.0}
    for proc in psutil.process_iter(["pid", "name", "cpu_times"]):
        times = proc.info["cpu_times"]
        if times is None:
            continue
        name = proc.info["name"] or ""
        group = ("api" if proc.info["pid"] in api else "postgres" if name.startswith("postgres")
                 else "redis" if name.startswith("redis") else "load generator" if proc.info["pid"] == os.getpid()
                 else None)  # fmt: skip
        if group:
            totals[group] += times.user + times.system
    return totals


def cpu_used(before: dict[str, float], after: dict[str, float], seconds: float) -> dict[str, float]:
    """Cores each group kept busy (1.0 = one core all the time); Postgres backends that ended in between are
    not counted, so its figure is a floor."""
    return {k: round(max(0.0, after[k] - before[k]) / seconds, 2) for k in after}


def seed_comparisons(count: int, chunk: int = 2000) -> None:
    """`count` ready train pairs: four made as the tests make them (images on disk), the rest copies of
    their rows inserted in bulk (the load never opens an image; rendering 2×count scenes would take
    longer than the bench)."""
    import uuid

    from sqlalchemy import insert, select

    from core.db.models import Comparison, Generation
    from core.db.session import session_scope
    from tests.helpers.data import make_comparisons

    make_comparisons(4)
    with session_scope() as session:
        templates = [(c, c.generation_a, c.generation_b) for c in session.scalars(select(Comparison))]
        copy = lambda row, skip: {c.key: getattr(row, c.key) for c in row.__table__.columns if c.key not in skip}  # noqa: E731
        for start in range(4, count, chunk):
            batch = [templates[i % len(templates)] for i in range(start, min(count, start + chunk))]
            generations = [copy(g, ("id",)) | {"public_id": uuid.uuid4().hex} for _, a, b in batch for g in (a, b)]
            ids = session.scalars(insert(Generation).returning(Generation.id, sort_by_parameter_order=True),
                                  generations).all()  # fmt: skip
            session.execute(insert(Comparison), [
                copy(c, ("id", "generation_a_id", "generation_b_id")) | {"generation_a_id": ids[2 * i],
                                                                       "generation_b_id": ids[2 * i + 1]}
                for i, (c, _, _) in enumerate(batch)])  # fmt: skip


def start_api(settings: dict, workers: int, tmp: Path) -> tuple[Service, str]:
    port = free_port()
    api = Service(f"api-{workers}", dpoloop("api", "--workers", str(workers)), service_env(**settings, port=port), tmp)
    base = f"http://127.0.0.1:{port}"
    import httpx

    wait_until(lambda: httpx.get(f"{base}/api/v1/health").status_code == 200, 60, "the API", proc=api)
    return api, base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labelers", type=int, nargs="+", default=[50, 200, 1000])
    parser.add_argument("--every", type=float, default=2.0, help="seconds between one labeler's votes")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--api-workers", type=int, default=2, help="API processes for the open-loop loads")
    parser.add_argument("--saturate", type=int, default=64, help="closed-loop labelers for the 1 vs 2 processes run")
    parser.add_argument("--saturate-seconds", type=float, default=20)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--py-spy", help="path of a py-spy binary: profile the API processes under each load")
    args = parser.parse_args()
    admin_url, redis_url = os.environ.get("DPOLOOP_TEST_POSTGRES_URL"), os.environ.get("DPOLOOP_TEST_REDIS_URL")
    if not admin_url or not redis_url:
        sys.exit('start the services first: eval "$(bash scripts/services.sh)"')
    needed = sum(n * args.seconds / args.every for n in args.labelers)
    needed += 2 * 400 * args.saturate_seconds  # two saturated runs, each well under 400 votes/s
    database_url = create_database(admin_url)
    tmp = Path(tempfile.mkdtemp(prefix="dpoloop-load-"))
    settings = {"database_url": database_url, "broker_url": f"{redis_url}/13", "data_dir": tmp / "data"}
    for key, value in settings.items():
        os.environ[f"DPOLOOP_{key.upper()}"] = str(value)
    results: dict = {"open_loop": [], "saturated": {}}
    try:
        from core.db.migrate import upgrade
        from tests.helpers.data import make_labeler

        upgrade()
        comparisons = int(needed * 1.1) + 1000
        print(f"preparing {comparisons} comparisons and {max(args.labelers)} labelers…", flush=True)
        seed_comparisons(comparisons)
        tokens = [make_labeler(f"load{i}")[1] for i in range(max(max(args.labelers), args.saturate))]

        api, base = start_api(settings, args.api_workers, tmp)
        print(f"\n== open loop: each labeler votes every {args.every:g} s, {args.api_workers} API processes, "
              f"Postgres on loopback ==")  # fmt: skip
        for n in args.labelers:
            profile = tmp / f"profile-{n}.txt"
            spy = start_profile(args.py_spy, api.proc.pid, args.seconds - 2, profile) if args.py_spy else None
            row = asyncio.run(open_loop(base, tokens[:n], args.every, args.seconds))
            if spy is not None:
                spy.wait(60)
                row["profile"] = summarise_profile(profile) if profile.is_file() else "py-spy wrote nothing"
            results["open_loop"].append(row)
            print("  ".join(f"{k} {v}" for k, v in row.items() if k != "profile"), flush=True)
            if spy is not None:
                print("  profile:", json.dumps(row["profile"]), flush=True)
        api.stop()

        print(f"\n== saturated: {args.saturate} labelers voting as fast as answered ==")
        for workers in (1, 2):
            api, base = start_api(settings, workers, tmp)
            before = cpu_seconds(api.proc.pid)
            profile = tmp / f"profile-saturated-{workers}.txt"
            spy = start_profile(args.py_spy, api.proc.pid, args.saturate_seconds - 2, profile) if args.py_spy else None
            row = asyncio.run(load(base, tokens[: args.saturate], args.saturate_seconds))
            row["cores busy"] = cpu_used(before, cpu_seconds(api.proc.pid), args.saturate_seconds)
            if spy is not None:
                spy.wait(60)
                row["profile"] = summarise_profile(profile) if profile.is_file() else "py-spy wrote nothing"
            api.stop()
            results["saturated"][workers] = row
            print(f"{workers} API process{'es' if workers > 1 else ''}:".ljust(18),
                  "  ".join(f"{k} {v}" for k, v in row.items() if k not in ("labelers", "profile")),
                  flush=True)  # fmt: skip
            if spy is not None:
                print("  profile:", json.dumps(row["profile"]), flush=True)
        one, two = results["saturated"][1]["votes/s"], results["saturated"][2]["votes/s"]
        print(f"saturated votes/s, 2 processes over 1: {two / one:.2f}×")
        if args.out:
            args.out.write_text(json.dumps(results, indent=1))
    finally:
        drop_database(admin_url, database_url)


if __name__ == "__main__":
    main()
