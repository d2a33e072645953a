"""The default install's broker: kombu's file-system transport, made safe for several processes.

kombu's filesystem transport writes a message under its final name, and a reader in another process
may list the folder, move the file away and read it before the writer's first byte lands: the
message is lost and json fails with "Expecting value: line 1 column 1" (a worker then dies). Exchange
tables have the same gap between a file's creation and its first write. Here a file appears under
its final name only when it is complete: it is written beside it under a name no reader matches,
fsynced, and renamed (atomic on one filesystem). Exchange tables change under a lock file of their
own and are replaced the same way, so a reader sees the old table or the new one, never half.

Use it as `dpoloopfs://` (the default when DPOLOOP_BROKER_URL is unset); the transport options are
the filesystem transport's (data_folder_in/out, processed_folder, control_folder).
"""

from __future__ import annotations

import fcntl
import uuid
from collections.abc import Callable
from pathlib import Path
from time import monotonic

from kombu.transport import TRANSPORT_ALIASES, filesystem, virtual
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

from core.files import write_whole  # a message being written (*.part) matches no queue

SCHEME = "dpoloopfs"


class Channel(filesystem.Channel):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A worker may connect before any other process made the folders: listing a missing one kills it.
        for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
            if key in self.transport_options:  # kombu's defaults are relative paths: make none of those
                Path(self.transport_options[key]).mkdir(parents=True, exist_ok=True)

    def _put(self, queue, payload, **kwargs):
        """Put a message on `queue`; readers see it only once it is whole."""
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        write_whole(Path(self.data_folder_out) / name, str_to_bytes(dumps(payload)))

    def _change_table(self, exchange, change: Callable[[list], list]) -> None:
        """Read, change and replace an exchange table under its own lock file."""
        self.control_folder.mkdir(parents=True, exist_ok=True)
        table_file = self._exchange_file(exchange)
        with open(table_file.with_name(table_file.name + ".lock"), "a") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)  # released when the file closes
            queues = self.get_table(exchange)
            changed = change(list(queues))
            if changed != queues:
                write_whole(table_file, str_to_bytes(dumps(changed)))

    def _queue_bind(self, exchange, routing_key, pattern, queue):
        entry = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        self._change_table(exchange, lambda queues: queues if entry in queues else [entry, *queues])

    def _delete(self, queue, exchange, routing_key, pattern, *args, **kwargs):
        virtual.Channel._delete(self, queue, exchange, routing_key, pattern, *args, **kwargs)
        entry = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        self._change_table(exchange, lambda queues: [q for q in queues if q != entry])


class Transport(filesystem.Transport):
    Channel = Channel
    driver_type = driver_name = SCHEME


TRANSPORT_ALIASES.setdefault(SCHEME, f"{__name__}:Transport")
