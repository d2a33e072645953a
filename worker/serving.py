"""The model a worker process serves: one pipeline, the weights it holds, and the lock around both.

A worker holds several campaigns' LoRA checkpoints at once, each a named adapter (up to
DPOLOOP_ADAPTERS_HELD, the least recently used dropped for a new one), and switches among them, or
blends them, per batch without reading a file; a full fine-tune replaces the denoiser and is worn alone.
A diffusers pipeline is not thread-safe, and a generation must never see half of a weight change,
so generation and every weight change happen under one lock. Loading a checkpoint (a promotion the
watcher follows, or one a request names) reads its files (or builds its UNet) beside the running model
first, outside the lock, then changes weights under the lock and checks one tiny generation before any
request sees them.
A checkpoint that fails either half is marked broken (which rolls the deployment back) and the
previous weights go on serving. A failure may be passing (out of GPU memory, a file system
hiccup): a checkpoint is retried with backoff and marked broken only when it fails LOAD_ATTEMPTS
times in a row; an admin can clear the mark. An object store that cannot be reached is nobody's fault:
the swap is tried again and the checkpoint is not marked.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
import time
from collections import OrderedDict

from core.refs import BASE_CHECKPOINT, Blend, CheckpointRef
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


Look = CheckpointRef | Blend  # the weights a batch is made with


def _parts(look: Look) -> list[CheckpointRef]:
    return [ref for ref, _ in look.parts] if isinstance(look, Blend) else [look]


def _key(look: Look) -> tuple:
    """Equal for looks that generate alike (the base is the empty blend)."""
    if isinstance(look, Blend):
        return tuple(sorted((ref.id, weight) for ref, weight in look.parts))
    return () if look.kind == CheckpointKind.base else ((look.id, 1.0),)


class ModelServer:
    def __init__(self, settings: Settings | None = None):
        self.settings = settings or get_settings()
        self.lock = threading.Lock()  # the pipeline: generation and weight changes
        self.swap_lock = threading.Lock()  # one load at a time (the watcher and tasks may both try)
        self.generator = None
        self.current: CheckpointRef | None = None  # what serves default, as this worker follows promotions
        self.failures: dict[int, tuple[int, float]] = {}  # checkpoint → (failures in a row, next try at)
        self.held: OrderedDict[int, str] = OrderedDict()  # LoRA checkpoint → its adapter; least recently used first
        self.full: CheckpointRef | None = None  # a full fine-tune on instead of the base's denoiser (no LoRA then)
        self.worn: tuple | None = None  # _key of what the pipeline generates with now (None: to be set)
        self._slots = itertools.count()

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
            self.current, self.worn = BASE_CHECKPOINT, ()

    # ---- loading weights ---------------------------------------------------------------------
    def _read(self, checkpoint: CheckpointRef):
        """The slow, fallible half of a load: no pipeline state is touched."""
        if checkpoint.kind == CheckpointKind.lora:
            return self.generator.read_lora(local_folder(self.settings, checkpoint.path))
        if checkpoint.kind == CheckpointKind.full:
            return self.generator.read_denoiser(local_folder(self.settings, checkpoint.path))
        raise ValueError(f"unknown checkpoint kind {checkpoint.kind!r}")

    def _loaded(self, checkpoint: CheckpointRef) -> bool:
        """Wearable without a file read. Under swap_lock alone the answer may go stale (a batch may take a
        full fine-tune off): wearing() checks again under lock."""
        if checkpoint.kind == CheckpointKind.base:
            return True
        if checkpoint.kind == CheckpointKind.lora:
            return checkpoint.id in self.held
        return self.full is not None and self.full.id == checkpoint.id

    def _drop_beyond_capacity(self, keep: set[int]) -> None:
        """Drop the least recently used adapters not in `keep` until at most DPOLOOP_ADAPTERS_HELD are held.
        Caller holds lock."""
        for checkpoint_id in [i for i in self.held if i not in keep]:
            if len(self.held) <= self.settings.adapters_held:
                return
            self.generator.drop_lora(self.held.pop(checkpoint_id))
            log.info("checkpoint %s leaves this worker's adapters for a newer one", checkpoint_id)

    def _load(self, checkpoint: CheckpointRef, keep: set[int]) -> None:
        """Make the checkpoint wearable, checked by one tiny generation, or raise leaving it not loaded and
        the held adapters as they were; then drop the least recently used beyond capacity, never one in
        `keep` (the batch's own). Caller holds swap_lock, not lock."""
        prepared = self._read(checkpoint)
        with self.lock:
            self.worn = None  # until what a batch wants is put on again
            if checkpoint.kind == CheckpointKind.lora:
                slot = f"a{next(self._slots):06d}"  # fixed width: no name is a substring of another
                self.full = None  # hold_lora takes any full fine-tune off first
                try:
                    self.generator.hold_lora(prepared, slot)
                    self.generator.use_loras({slot: 1.0}, f"lora:{checkpoint.path}")
                    self.generator.smoke_test()
                except Exception:
                    with contextlib.suppress(Exception):
                        self.generator.drop_lora(slot)
                    raise
                self.held[checkpoint.id] = slot
                self._drop_beyond_capacity(keep | {checkpoint.id})
            else:
                self.held.clear()  # a full fine-tune's denoiser wears no LoRA: wear_denoiser unloads them
                self.full = None
                try:
                    self.generator.wear_denoiser(prepared, checkpoint.path)
                    self.generator.smoke_test()
                except Exception:
                    self.generator.unload_overlays()
                    raise
                self.full = checkpoint
        log.info("checkpoint %s loaded", checkpoint.id)

    def _ensure(self, checkpoint: CheckpointRef, keep: frozenset[int] = frozenset()) -> None:
        """Load the checkpoint unless it is (without waiting for another's load); failures count toward
        broken, with backoff. A load never drops an adapter in `keep`."""
        if self._loaded(checkpoint):
            self._touch(checkpoint)
            return
        with self.swap_lock:
            if self._loaded(checkpoint):
                self._touch(checkpoint)
                return
            waiting = self.failures.get(checkpoint.id)
            if waiting is not None and time.monotonic() < waiting[1]:
                raise RetryLater(f"checkpoint {checkpoint.id} failed to load; next try in "
                                 f"{waiting[1] - time.monotonic():.1f} s")  # fmt: skip
            try:
                self._load(checkpoint, set(keep))
            except StoreUnavailable:
                log.warning("checkpoint %s waits for the object store to answer", checkpoint.id)
                raise  # the store's outage, not the checkpoint's fault: never counted toward broken
            except Exception as exc:
                self._failed(checkpoint, exc)
                raise
            self.failures.pop(checkpoint.id, None)

    def _touch(self, checkpoint: CheckpointRef) -> None:
        """Mark a held adapter recently used: the last to be dropped for a new one."""
        with contextlib.suppress(KeyError):  # dropped meanwhile: wearing() checks again under lock
            self.held.move_to_end(checkpoint.id)

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
        """Follow default's promotions: load what serves default now, which requests naming no checkpoint then
        get (the watcher calls this twice a second). Until it loads, the previous one goes on serving."""
        try:
            target = checkpoints.active_ref()
        except UnusableCheckpoint:
            return  # broken: the rollback row is on its way; keep serving what is on
        if target.id == self.checkpoint_id:
            return
        with contextlib.suppress(Exception):  # retried later, or marked broken; the previous weights still serve
            self._ensure(target, frozenset({target.id}))
            with self.swap_lock:  # a slower caller with an older answer must not move it back
                if checkpoints.active_ref().id == target.id:
                    self.current = target
                    log.info("now serving checkpoint %s", target.id)

    # ---- serving ---------------------------------------------------------------------------
    def warm(self) -> None:
        with self.lock:
            self._ensure_loaded()

    def generate(self, requests: list[GenerationParams], checkpoint: Look | None = None):
        """Generate with exactly these weights (a checkpoint, or a blend), or (None) with what serves default.

        Returns (results, id of the checkpoint that made them; None for a blend)."""
        return self.wearing(checkpoint, lambda generator: generator.generate(requests))

    def wearing(self, look: Look | None, work):
        """work(generator) with exactly these weights on (None: what serves default), under the lock, so no
        change comes between its steps; returns (its result, the id of the checkpoint worn; None for a blend)."""
        self.warm()
        loras = [ref for ref in _parts(look) if ref.kind == CheckpointKind.lora] if look is not None else []
        if isinstance(look, Blend) and len(loras) < len(look.parts):
            raise ValueError("a blend is of LoRA checkpoints: a full fine-tune replaces the model")
        if len(loras) > self.settings.adapters_held:
            raise ValueError(f"a blend of {len(loras)} adapters; this worker holds at most "
                             f"{self.settings.adapters_held} (DPOLOOP_ADAPTERS_HELD)")  # fmt: skip
        for _ in range(3):  # another batch's load may drop one of ours in between: load again
            if look is None:
                self.sync_to_active()
            target = look or self.current
            keep = frozenset(ref.id for ref in _parts(target))
            for ref in _parts(target):
                self._ensure(ref, keep)
            with self.lock:
                if all(self._loaded(ref) for ref in _parts(target)):
                    self._put_on(target)
                    return work(self.generator), (None if isinstance(target, Blend) else target.id)
        raise RuntimeError(f"could not keep the weights of {_key(look) if look else 'default'} on")

    def _put_on(self, look: Look) -> None:
        """Switch the pipeline to these loaded weights (no file read). Caller holds lock."""
        key = _key(look)
        if key == self.worn:
            return
        if isinstance(look, CheckpointRef) and look.kind == CheckpointKind.full:
            self.worn = key  # it is on: loading put it on, and nothing else is held beside it
            return
        self.worn = None  # until the switch is whole: a failure half-way must not look like a done switch
        if self.full is not None:  # the base's denoiser back (it holds no adapters)
            self.generator.unload_overlays()
            self.full = None
        parts = look.parts if isinstance(look, Blend) else [] if key == () else [(look, 1.0)]
        for ref, _ in parts:
            self.held.move_to_end(ref.id)  # recently used: the last to be dropped for a new one
        self.generator.use_loras({self.held[ref.id]: weight for ref, weight in parts}, _label(look))
        self.worn = key


def _label(look: Look) -> str:
    """What GeneratedImage.weights says made an image."""
    if isinstance(look, Blend):
        return "blend:" + ",".join(f"{ref.id}={weight:g}" for ref, weight in look.parts) if look.parts else "base"
    return "base" if look.kind == CheckpointKind.base else f"lora:{look.path}"


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
