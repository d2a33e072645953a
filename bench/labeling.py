"""The labeling loop under load, against Postgres on loopback, plus the pool's fill speed.

1. 50 concurrent labelers, each looping GET /comparisons/next → POST vote, against
   `dpoloop api --workers 2`: p50/p99 of both calls and votes/s. Baseline in the same run: one
   labeler alone (the latency floor), so the ratio shows what concurrency costs.
2. A real worker with the embedded model: time from an empty pool to the first pair a labeler can
   get, and the refill rate in pairs/s.

Needs Postgres and Redis (as `bash scripts/test.sh` starts them):
    eval "$(bash scripts/services.sh)" && .venv/bin/python bench/labeling.py [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import create_database, drop_database  # noqa: E402
from tests.helpers.stack import Service, dpoloop, free_port, service_env, wait_until  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


class Connection:
    """A bare keep-alive HTTP/1.1 connection: a Python HTTP client library would spend more CPU
    than the server under test on these 2 cores, and the bench would measure the client."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, token: str):
        self.reader, self.writer = reader, writer
        self.auth = f"Authorization: Bearer {token}\r\nHost: bench\r\n"

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        head = f"{method} {path} HTTP/1.1\r\n{self.auth}Content-Length: {len(body)}\r\n"
        if body:
            head += "Content-Type: application/json\r\n"
        self.writer.write(head.encode() + b"\r\n" + body)
        status = int((await self.reader.readline()).split()[1])
        length = 0
        while (line := await self.reader.readline()) != b"\r\n":
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        return status, await self.reader.readexactly(length)


async def labeler_loop(host: str, port: int, token: str, deadline: float, next_ms: list, vote_ms: list) -> int:
    conn = Connection(*await asyncio.open_connection(host, port), token)
    votes = 0
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        status, body = await conn.request("GET", "/api/v1/comparisons/next")
        next_ms.append((time.perf_counter() - started) * 1e3)
        if status != 200:
            await asyncio.sleep(0.05)
            continue
        handle = json.loads(body)["id"]  # the pair's handle, an opaque string
        started = time.perf_counter()
        status, _ = await conn.request("POST", f"/api/v1/comparisons/{handle}/vote", b'{"choice":"left"}')
        vote_ms.append((time.perf_counter() - started) * 1e3)
        votes += status == 201
    conn.writer.close()
    return votes


async def load(base_url: str, tokens: list[str], seconds: float) -> dict:
    host, port = base_url.removeprefix("http://").split(":")
    next_ms, vote_ms = [], []
    started = time.perf_counter()
    votes = await asyncio.gather(
        *(labeler_loop(host, int(port), t, started + seconds, next_ms, vote_ms) for t in tokens)
    )
    elapsed = time.perf_counter() - started
    return {
        "labelers": len(tokens),
        "votes/s": round(sum(votes) / elapsed, 1),
        "GET next p50 ms": round(statistics.median(next_ms), 2),
        "GET next p99 ms": round(percentile(next_ms, 0.99), 2),
        "POST vote p50 ms": round(statistics.median(vote_ms), 2),
        "POST vote p99 ms": round(percentile(vote_ms, 0.99), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--labelers", type=int, default=50)
    parser.add_argument("--comparisons", type=int, default=30000)
    parser.add_argument("--api-workers", type=int, default=2)
    parser.add_argument("--skip-pool", action="store_true")
    args = parser.parse_args()
    admin_url = os.environ.get("DPOLOOP_TEST_POSTGRES_URL")
    redis_url = os.environ.get("DPOLOOP_TEST_REDIS_URL")
    if not admin_url or not redis_url:
        sys.exit('start the services first: eval "$(bash scripts/services.sh)"')

    database_url = create_database(admin_url)
    tmp = Path(tempfile.mkdtemp(prefix="dpoloop-bench-"))
    settings = {"database_url": database_url, "broker_url": f"{redis_url}/14", "data_dir": tmp / "data"}
    for key, value in settings.items():
        os.environ[f"DPOLOOP_{key.upper()}"] = str(value)
    services = []
    try:
        from core.db.migrate import upgrade
        from tests.helpers.data import make_comparisons, make_labeler

        upgrade()
        print(f"preparing {args.comparisons} comparisons and {args.labelers} labelers…", flush=True)
        make_comparisons(args.comparisons)
        tokens = [make_labeler(f"bench{i}")[1] for i in range(args.labelers)]
        port = free_port()
        api = Service(
            "api", dpoloop("api", "--workers", str(args.api_workers)), service_env(**settings, port=port), tmp
        )
        services.append(api)
        base = f"http://127.0.0.1:{port}"
        import httpx

        wait_until(lambda: httpx.get(f"{base}/api/v1/health").status_code == 200, 30, "the API", proc=api)

        print("\n== labeling, Postgres on loopback ==")
        baseline = asyncio.run(load(base, tokens[:1], min(args.seconds, 10)))
        loaded = asyncio.run(load(base, tokens, args.seconds))
        for name, result in (("baseline: 1 labeler", baseline), (f"{args.labelers} labelers", loaded)):
            print(name.ljust(22), "  ".join(f"{k} {v}" for k, v in result.items() if k != "labelers"))
        print(f"throughput ratio ({args.labelers} vs 1): {loaded['votes/s'] / baseline['votes/s']:.2f}×; "
              f"p99 GET next ratio: {loaded['GET next p99 ms'] / baseline['GET next p99 ms']:.2f}×")  # fmt: skip
        if not args.skip_pool:
            pool_figures(settings, tmp, base, tokens[0], services)
    finally:
        for service in services:
            service.stop()
        drop_database(admin_url, database_url)


def pool_figures(settings: dict, tmp: Path, base: str, token: str, services: list) -> None:
    """Empty pool → first pair, and the refill rate, with a real worker on the embedded model."""
    import httpx
    from sqlalchemy import update

    from core.db.models import Comparison
    from core.db.session import session_scope
    from core.queue import FILL_POOL, celery_app, configure
    from core.repo.comparisons import ready_pool_count
    from core.services.prompts import seed_shipped_prompts
    from core.settings import get_settings
    from core.states import ComparisonState
    from tests.helpers.data import make_labeler

    with session_scope() as session:
        session.execute(update(Comparison).values(state=ComparisonState.done))  # empty the pool
    seed_shipped_prompts()
    target = 16
    env = service_env(**settings, pool_target=target, pool_batch=4, torch_threads=2)
    worker = Service("worker", dpoloop("worker"), env, tmp)
    services.append(worker)
    admin = {"Authorization": f"Bearer {make_labeler('bench-admin', admin=True)[1]}"}
    wait_until(lambda: httpx.get(f"{base}/api/v1/admin/health", headers=admin).json()["status"] == "ok", 120,
               "a warm worker", proc=worker)  # fmt: skip
    get_settings.cache_clear()
    configure(celery_app, get_settings())
    headers = {"Authorization": f"Bearer {token}"}
    started = time.perf_counter()
    for _ in range(target // 4 + 1):  # the first task makes one pair (empty pool), the rest four each
        celery_app.send_task(FILL_POOL)
    wait_until(lambda: httpx.get(f"{base}/api/v1/comparisons/next", headers=headers).status_code == 200, 120,
               "the first pair", every=0.05, proc=worker)  # fmt: skip
    first_pair_s = time.perf_counter() - started

    def count():
        with session_scope() as session:
            return ready_pool_count(session, 1)

    wait_until(lambda: count() >= target, 600, f"{target} pairs", every=0.2, proc=worker)
    fill_s = time.perf_counter() - started
    print("\n== pool, embedded model, worker with 2 torch threads ==")
    print(f"empty pool → first pair served: {first_pair_s:.2f} s (one pair first, 20 steps)")
    print(f"refill: {target} pairs in {fill_s:.1f} s = {target / fill_s:.2f} pairs/s")


if __name__ == "__main__":
    main()
