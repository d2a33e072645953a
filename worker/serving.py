"""The model a worker process serves: one pipeline, the checkpoint it wears, and the lock around both.

A diffusers pipeline is not thread-safe, and a generation must never see half of a weight change,
so generation and every weight change happen under one lock. A swap to a newly promoted
checkpoint reads its files (or builds its UNet) beside the running model first, outside the lock,
then changes weights under the lock and checks one tiny generation before any request sees them.
A checkpoint that fails either half is marked broken (which rolls the deployment back) and the
previous weights go on serving. A failure may be passing (out of GPU memory, a file system
hiccup): a checkpoint is retried with backoff and marked broken only when it fails LOAD_ATTEMPTS
times in a row; an admin can clear the mark. An object store that cannot be reached is nobody's fault:
the swap is tried again and the checkpoint is not marked.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time

from core.refs import BASE_CHECKPOINT, CheckpointRef
from core.schemas.generation import GenerationParams
from core.services import checkpoints
from core.services.checkpoints import UnusableCheckpoint
from core.settings import Settings, get_settings
from core.states import CheckpointKind
from core.storage import StoreUnavailable, local_folder

log = logging.getLogger(__name__)
WATCH_S = 0.5  # how often a worker looks for a promotion: a swap starts within about this long
LOAD_ATTEMPTS = 3  # failures in a row before a checkpoint is marked broken
RETRY_AFTER_S = 2.0  # the first retry's wait; it doubles after each failure


class RetryLater(RuntimeError):
    """The checkpoint failed to load lately; it is tried again after a backoff."""


class ModelServer:
    def __init__(self, settings: Settings | None = None):
        self.settings = settings or get_settings()
        self.lock = threading.Lock()  # the pipeline: generation and weight changes
        self.swap_lock = threading.Lock()  # one swap at a time (the watcher and tasks may both try)
        self.generator = None
        self.current: CheckpointRef | None = None
        self.failures: dict[int, tuple[int, float]] = {}  # checkpoint → (failures in a row, next try at)

    @property
    def checkpoint_id(self) -> int | None:
        current = self.current
        return current.id if current else None

    def _ensure_loaded(self) -> None:
        if self.generator is None:
            import torch  # on first use: a prefork parent never loads torch (CUDA does not survive fork)

            from worker.generation.generator import Generator

            torch.set_num_threads(self.settings.torch_threads)
            device = torch.device(self.settings.device) if self.settings.device else None
            self.generator = Generator(self.settings.base_model, device=device)
            self.current = BASE_CHECKPOINT

    # ---- weights ---------------------------------------------------------------------------
    def _read(self, checkpoint: CheckpointRef):
        """The slow, fallible half of a swap: no pipeline state is touched."""
        if checkpoint.kind == CheckpointKind.base:
            return None
        if checkpoint.kind == CheckpointKind.lora:
            return self.generator.read_lora(local_folder(self.settings, checkpoint.path))
        if checkpoint.kind == CheckpointKind.full:
            return self.generator.read_denoiser(local_folder(self.settings, checkpoint.path))
        raise ValueError(f"unknown checkpoint kind {checkpoint.kind!r}")

    def _put_on(self, checkpoint: CheckpointRef, prepared) -> None:
        """The fast half, under self.lock."""
        if checkpoint.kind == CheckpointKind.base:
            self.generator.unload_overlays()
        elif checkpoint.kind == CheckpointKind.lora:
            self.generator.wear_lora(prepared, checkpoint.path)
        else:
            self.generator.wear_denoiser(prepared, checkpoint.path)

    def _swap(self, checkpoint: CheckpointRef) -> None:
        """Wear checkpoint, or raise leaving the previous weights on. Caller holds swap_lock, not lock."""
        prepared = self._read(checkpoint)
        with self.lock:
            previous = self.current
            self.current = None  # until the new weights are fully on and checked
            try:
                self._put_on(checkpoint, prepared)
                self.generator.smoke_test()
            except Exception:
                self._put_on(previous, self._read(previous))
                self.current = previous
                raise
            self.current = checkpoint
        log.info("now serving checkpoint %s", checkpoint.id)

    def _wear(self, checkpoint: CheckpointRef) -> None:
        with self.swap_lock:
            if checkpoint.id == self.checkpoint_id:
                return
            waiting = self.failures.get(checkpoint.id)
            if waiting is not None and time.monotonic() < waiting[1]:
                raise RetryLater(f"checkpoint {checkpoint.id} failed to load; next try in "
                                 f"{waiting[1] - time.monotonic():.1f} s")  # fmt: skip
            try:
                self._swap(checkpoint)
            except StoreUnavailable:
                log.warning("checkpoint %s waits for the object store to answer", checkpoint.id)
                raise  # the store's outage, not the checkpoint's fault: never counted toward broken
            except Exception as exc:
                self._failed(checkpoint, exc)
                raise
            self.failures.pop(checkpoint.id, None)

    def _failed(self, checkpoint: CheckpointRef, exc: Exception) -> None:
        count = self.failures.get(checkpoint.id, (0, 0.0))[0] + 1
        self.failures[checkpoint.id] = (count, time.monotonic() + RETRY_AFTER_S * 2 ** (count - 1))
        if count < LOAD_ATTEMPTS:
            log.warning("checkpoint %s failed to load (%d of %d): %s: %s; retrying later",
                        checkpoint.id, count, LOAD_ATTEMPTS, type(exc).__name__, exc)  # fmt: skip
            return
        log.exception("checkpoint %s failed to load %d times in a row; it is marked broken", checkpoint.id, count)
        try:
            checkpoints.mark_broken(checkpoint.id, f"failed to load {count} times: {type(exc).__name__}: {exc}")
        except Exception:
            log.exception("could not mark checkpoint %s broken", checkpoint.id)

    def sync_to_active(self) -> None:
        """Wear the promoted checkpoint if this worker does not yet (the watcher calls this twice a second)."""
        try:
            target = checkpoints.active_ref()
        except UnusableCheckpoint:
            return  # broken: the rollback row is on its way; keep serving what is on
        if target.id == self.checkpoint_id:
            return
        with contextlib.suppress(Exception):  # retried later, or marked broken; the previous weights still serve
            self._wear(target)

    # ---- serving ---------------------------------------------------------------------------
    def warm(self) -> None:
        with self.lock:
            self._ensure_loaded()

    def generate(self, requests: list[GenerationParams], checkpoint: CheckpointRef | None = None):
        """Generate with exactly this checkpoint's weights, or (None) with the promoted one.

        Returns (results, id of the checkpoint that made them)."""
        return self.wearing(checkpoint, lambda generator: generator.generate(requests))

    def wearing(self, checkpoint: CheckpointRef | None, work):
        """work(generator) with exactly this checkpoint's weights on (None: the promoted one), under the
        lock, so no swap comes between its steps; returns (its result, the id of the checkpoint worn)."""
        self.warm()
        for _ in range(3):  # the watcher may swap back to the promoted checkpoint in between: wear again
            if checkpoint is None:
                self.sync_to_active()
            else:
                self._wear(checkpoint)
            with self.lock:
                if self.current is not None and (checkpoint is None or self.current.id == checkpoint.id):
                    return work(self.generator), self.current.id
        raise RuntimeError(f"could not keep checkpoint {checkpoint.id if checkpoint else '?'} on")


_server: ModelServer | None = None


def model_server() -> ModelServer:
    """This process's server (created on first use: a prefork parent never loads torch)."""
    global _server
    if _server is None:
        _server = ModelServer()
    return _server


def watch_promotions(server: ModelServer, stop: threading.Event) -> None:
    """Follow the deployment table: a promotion reaches this worker within about WATCH_S."""
    while not stop.wait(WATCH_S):
        try:
            server.sync_to_active()
        except Exception:
            log.exception("promotion watch failed; retrying")
