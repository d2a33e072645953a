"""An automatic labeler: it labels pool comparisons through the REST API, as a person would.

The policy (policies.py) decides each vote from the two images, using the scene
scorer. It stands in for people in tests and benchmarks: the paper's AI-feedback setting.
"""

from __future__ import annotations

import io
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from PIL import Image

from worker.scenes.policies import Policy


@dataclass
class SimulationReport:
    votes: int = 0
    choices: Counter = field(default_factory=Counter)
    waited_s: float = 0.0  # time spent waiting for the pool to refill
    seconds: float = 0.0


def simulate_labeler(
    base_url: str,
    token: str,
    policy: Policy,
    votes: int,
    patience_s: float = 120.0,
    on_vote: Callable[[int, str], None] | None = None,
) -> SimulationReport:
    """Cast `votes` votes; waits for the pool when it is empty, up to patience_s at a stretch."""
    report = SimulationReport()
    started = time.monotonic()
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=30.0) as client:
        empty_since: float | None = None
        while report.votes < votes:
            response = client.get("/api/v1/comparisons/next")
            if response.status_code == 204:
                now = time.monotonic()
                empty_since = empty_since or now
                if now - empty_since > patience_s:
                    raise TimeoutError(f"the pool stayed empty for {patience_s:.0f} s after {report.votes} votes")
                time.sleep(0.25)
                report.waited_s += 0.25
                continue
            response.raise_for_status()
            empty_since = None
            pair = response.json()
            left, right = (Image.open(io.BytesIO(fetch_image(client, pair[side]["url"]))) for side in ("left", "right"))
            choice = policy.choose(left, right, pair["prompt"])
            client.post(f"/api/v1/comparisons/{pair['id']}/vote", json={"choice": choice}).raise_for_status()
            report.votes += 1
            report.choices[choice] += 1
            if on_vote:
                on_vote(report.votes, choice)
    report.seconds = time.monotonic() - started
    return report


def fetch_image(client, url: str) -> bytes:
    """An image link: the API's own (relative), or an object store's pre-signed URL, which must not get the
    labeler's token (a store refuses a second way of signing, and the token is not the store's business)."""
    response = client.get(url) if url.startswith("/") else httpx.get(url, timeout=30.0)
    response.raise_for_status()
    return response.content
