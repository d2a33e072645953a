"""A running round's pulse in every phase: loading, judging and evaluating can each outlast the
stale time, and a silent round is declared lost. A thread beats while the round runs; a step,
its counts and its checkpoint also beat, under the same claim."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from core.services import rounds
from core.services.rounds import RoundClaim, RoundLost

log = logging.getLogger(__name__)


@contextmanager
def beating(claim: RoundClaim, every_s: float) -> Iterator[None]:
    stop = threading.Event()

    def pulse() -> None:
        while not stop.wait(every_s):
            try:
                rounds.beat(claim)
            except RoundLost:
                log.warning("round %s was declared lost; its next write will stop it", claim.round_id)
                return
            except Exception:  # a database hiccup: the next beat tries again
                log.exception("heartbeat of round %s failed", claim.round_id)

    thread = threading.Thread(target=pulse, name=f"dpoloop-round-{claim.round_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
