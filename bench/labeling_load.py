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
        from tests.helpers.data import make_comparisons, make_labeler

        upgrade()
        comparisons = int(needed * 1.1) + 1000
        print(f"preparing {comparisons} comparisons and {max(args.labelers)} labelers…", flush=True)
        make_comparisons(comparisons)
        tokens = [make_labeler(f"load{i}")[1] for i in range(max(max(args.labelers), args.saturate))]

        api, base = start_api(settings, args.api_workers, tmp)
        print(f"\n== open loop: each labeler votes every {args.every:g} s, {args.api_workers} API processes, "
              f"Postgres on loopback ==")  # fmt: skip
        for n in args.labelers:
            row = asyncio.run(open_loop(base, tokens[:n], args.every, args.seconds))
            results["open_loop"].append(row)
            print("  ".join(f"{k} {v}" for k, v in row.items()), flush=True)
        api.stop()

        print(f"\n== saturated: {args.saturate} labelers voting as fast as answered ==")
        for workers in (1, 2):
            api, base = start_api(settings, workers, tmp)
            row = asyncio.run(load(base, tokens[: args.saturate], args.saturate_seconds))
            api.stop()
            results["saturated"][workers] = row
            print(f"{workers} API process{'es' if workers > 1 else ''}:".ljust(18),
                  "  ".join(f"{k} {v}" for k, v in row.items() if k != "labelers"), flush=True)  # fmt: skip
        one, two = results["saturated"][1]["votes/s"], results["saturated"][2]["votes/s"]
        print(f"saturated votes/s, 2 processes over 1: {two / one:.2f}×")
        if args.out:
            args.out.write_text(json.dumps(results, indent=1))
    finally:
        drop_database(admin_url, database_url)


if __name__ == "__main__":
    main()
