"""A round's latents read through the storage layer: from the data dir (the baseline), and cold from an
S3-compatible store one file at a time or prefetched in concurrent chunks (what a round does).

Latents as SD 1.x makes them at 512 px (4×64×64 float32, 64 KB); --pairs pairs, two files each. Each
variant runs --repeats times on an empty cache; medians and ratios against the data dir are printed.
Needs an S3 server (scripts/services.sh starts moto's):
    eval "$(bash scripts/services.sh)" && .venv/bin/python bench/storage_reads.py
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.storage import Storage  # noqa: E402


def latents_bytes(rng: np.random.Generator) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, rng.standard_normal((4, 64, 64), dtype=np.float32))
    return buffer.getvalue()


def read_all(store: Storage, keys: list[str], prefetch: bool) -> float:
    started = time.perf_counter()
    if prefetch:
        store.prefetch(keys)
    for key in keys:
        np.load(store.local_file(key))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    endpoint = os.environ.get("DPOLOOP_TEST_S3_URL")
    if not endpoint:
        sys.exit("DPOLOOP_TEST_S3_URL is not set: eval \"$(bash scripts/services.sh)\" first")
    os.environ.setdefault("AWS_ENDPOINT_URL", endpoint)
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(key, "test")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

    rng = np.random.default_rng(0)
    keys = [f"latents/{uuid.uuid4().hex}.npy" for _ in range(2 * args.pairs)]
    blobs = [latents_bytes(rng) for _ in keys]
    with tempfile.TemporaryDirectory() as tmp:
        local = Storage(str(Path(tmp) / "data"), Path(tmp) / "unused", 10**10)
        bucket = f"bench-{uuid.uuid4().hex[:10]}"
        remote = Storage(f"s3://{bucket}/install", Path(tmp) / "cache", 10**10)
        remote.ensure_bucket()
        for key, blob in zip(keys, blobs, strict=True):
            local.write_bytes(key, blob)
            remote.write_bytes(key, blob)

        timings: dict[str, list[float]] = {"data dir": [], "s3, one by one": [], "s3, prefetched": []}
        for _ in range(args.repeats):
            timings["data dir"].append(read_all(local, keys, prefetch=False))
            for name, prefetch in (("s3, one by one", False), ("s3, prefetched", True)):
                shutil.rmtree(Path(tmp) / "cache", ignore_errors=True)  # cold: a machine that never read them
                timings[name].append(read_all(remote, keys, prefetch))

    base = statistics.median(timings["data dir"])
    rows = {}
    print(f"{len(keys)} latents files of {len(blobs[0]) // 1024} KB (a round of {args.pairs} pairs), "
          f"median of {args.repeats}, S3 at {endpoint}")  # fmt: skip
    for name, seconds in timings.items():
        median = statistics.median(seconds)
        rows[name] = {"median_s": round(median, 3), "runs_s": [round(s, 3) for s in seconds],
                      "files_per_s": round(len(keys) / median), "vs_data_dir": round(median / base, 2)}  # fmt: skip
        print(f"  {name:16s} {median:7.3f} s  {len(keys) / median:8.0f} files/s  ×{median / base:6.2f} of the data dir")
    speedup = rows["s3, one by one"]["median_s"] / rows["s3, prefetched"]["median_s"]
    print(f"  prefetch speed-up over one by one: ×{speedup:.2f}")
    if args.out:
        args.out.write_text(json.dumps({"files": len(keys), "bytes_each": len(blobs[0]), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
