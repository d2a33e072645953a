"""Import: preference pairs from outside dpoloop become a named set a round can train on.

`start_import` checks the path (under the import root, nowhere else; with an object store, under its
imports/ folder, which admins upload to) and registers the set; the
train worker reads it a batch of rows at a time (worker/tasks/imports.py): decodes both images,
resizes and centre-crops them to the base model's resolution, VAE-encodes them and records each
batch with the set's progress in one transaction, so a worker lost mid-import resumes where the last
batch ended. Ties and rows without a label are counted, never trained on; bad rows (whatever went
wrong with them) are counted and listed, never fatal; a row already imported (same caption, images
and label, in any set) is counted as a duplicate. A batch that kills the worker each time it is read
fails the import after MAX_ATTEMPTS starts, with that reason, instead of being redelivered forever.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from core.db.models import Campaign, PreferenceSet
from core.db.session import session_scope
from core.files import files_in
from core.paths import resolve_within
from core.queue import IMPORT_SET, QueueUnavailable, send
from core.repo import imports as repo
from core.repo.imports import NewPair, SetNameTaken
from core.services import campaigns
from core.settings import get_settings
from core.states import DEFAULT_CAMPAIGN_ID, ImportState
from core.storage import IMPORTS, check_key, storage

FORMATS = ("parquet", "datasets", "folder")
IMPORT_PREFIX = "import:"  # a round's source naming a set: "import:NAME"
# Worker starts without a recorded batch before the import is given up on. A worker lost once may be a
# restart or a lost machine; three starts in a row dying on the same rows are the rows (a batch that does
# not fit in memory, say), and a fourth would only be killed again.
MAX_ATTEMPTS = 3


class ImportRefused(ValueError):
    """The path cannot be imported (the message says why), or the name is taken."""


def in_import_root(path: Path, root: Path) -> Path:
    """The path to read; ImportRefused in the same words whether or not something outside the root exists."""
    found = resolve_within(root, path)
    if found is None:
        raise ImportRefused(f"{path} is not under the import root {root}: put the data there (DPOLOOP_IMPORT_ROOT)")
    return found


def detect_format(path: Path) -> str:
    """The format of a file or folder under the import root (format_of)."""
    if path.is_file():
        return format_of([""], str(path))
    if not path.is_dir():
        raise ImportRefused(f"{path} does not exist")
    return format_of(files_in(path), str(path))


def format_of(names: list[str], label: str) -> str:
    """parquet (a .parquet file or a folder of them), datasets (a `save_to_disk` folder) or folder
    (NAME_0.png / NAME_1.png with a .jsonl of captions and labels), from the names of the files under
    `label` ([""]: it is a file itself; none: an empty folder)."""
    if names == [""]:
        if label.endswith(".parquet"):
            return "parquet"
        raise ImportRefused(f"{label} is not a .parquet file")
    if "state.json" in names or "dataset_dict.json" in names:
        return "datasets"
    if any(name.endswith(".parquet") for name in names):
        return "parquet"
    if any(name.endswith(".jsonl") and "/" not in name for name in names):
        return "folder"
    raise ImportRefused(f"{label} holds no .parquet files, no datasets `save_to_disk` data and no .jsonl of pairs")


def store_key(path: Path) -> str:
    """With an object store, imports are read from its imports/ folder: the key a relative path names."""
    try:
        return check_key(f"{IMPORTS}/{PurePosixPath(path).as_posix()}") if not Path(path).is_absolute() else ""
    except ValueError:
        return ""


def start_import(path: Path, name: str | None = None, by: str = "cli", campaign: str = campaigns.DEFAULT
                 ) -> PreferenceSet:  # fmt: skip
    """Register the set, for the campaign's rounds, and queue the import on the train worker. UnknownCampaign
    or CampaignRefused (archived); ImportRefused for a path outside the import root (a relative one is under
    it), not importable, or a name in use; QueueUnavailable (the set is then marked failed)."""
    with session_scope() as session:
        campaign_id = campaigns.by_name(session, campaign, active=True).id
    store = storage(get_settings())
    if store.local:
        path = in_import_root(path, get_settings().imports_dir)
        source, fmt = str(path), detect_format(path)
    else:  # several machines: the admin uploads the data to the store, the train worker reads it there
        source = store_key(path)
        if not source or source == IMPORTS:
            raise ImportRefused(f"{path} is not a path under the object store's {IMPORTS}/ folder: upload the "
                                f"data to {store.url}/{IMPORTS}/ and name it relative to there")  # fmt: skip
        names = store.files_under(source)
        if not names:  # a store has no empty folders
            raise ImportRefused(f"{source} does not exist")
        fmt = format_of(names, source)
    name = name or Path(path).stem
    try:
        with session_scope() as session:
            row = repo.create_set(session, name, source, fmt, by, campaign_id)
    except SetNameTaken as exc:
        raise ImportRefused(str(exc)) from exc
    try:
        send(IMPORT_SET, row.id)
    except QueueUnavailable as exc:
        fail(row.id, f"could not queue the import: {exc}")
        raise
    return row


def resume_import(name: str) -> PreferenceSet:
    """Queue an unfinished (or failed) import again: it goes on at the first row not yet recorded, with
    its attempts counted afresh. QueueUnavailable (the set is then marked failed)."""
    with session_scope() as session:
        row = repo.set_by_name(session, name)
        if row is None:
            raise LookupError(f"no preference set named {name!r}")
        if row.state == ImportState.done:
            raise ImportRefused(f"set {name!r} is already imported")
        row.state, row.error, row.finished_at, row.attempts = ImportState.queued, None, None, 0
    try:
        send(IMPORT_SET, row.id)
    except QueueUnavailable as exc:
        fail(row.id, f"could not queue the import: {exc}")
        raise
    return row


def get_set(name: str) -> PreferenceSet:
    with session_scope() as session:
        row = repo.set_by_name(session, name)
    if row is None:
        raise LookupError(f"no preference set named {name!r}")
    return row


def list_sets() -> list[PreferenceSet]:
    with session_scope() as session:
        return repo.list_sets(session)


def check_sources(sources: list[str], campaign_id: int = DEFAULT_CAMPAIGN_ID) -> None:
    """ValueError naming a source a round of the campaign cannot use: an unknown set, one not fully
    imported, or another campaign's."""
    names = [s.removeprefix(IMPORT_PREFIX) for s in sources if s.startswith(IMPORT_PREFIX)]
    with session_scope() as session:
        for name in names:
            row = repo.set_by_name(session, name)
            if row is None:
                raise ValueError(f"sources: no preference set named {name!r} (see dpoloop imports list)")
            if row.campaign_id != campaign_id:
                owner = session.get(Campaign, row.campaign_id).name
                raise ValueError(f"sources: set {name!r} was imported for campaign {owner!r}, not this round's")
            if row.state != ImportState.done:
                raise ValueError(f"sources: set {name!r} is {row.state.value} ({row.rows_done} of "
                                 f"{row.rows_total or '?'} rows read)")  # fmt: skip


# ---- the train worker's side -------------------------------------------------------------------


@dataclass(frozen=True)
class ImportJob:
    set_id: int
    name: str
    source: str
    format: str
    rows_done: int  # where to go on


def claim(set_id: int) -> ImportJob | None:
    """Start (or resume) an import; None when it is done, failed, gone, or has been started MAX_ATTEMPTS
    times without recording a batch (a worker killed by its rows each time: it is then failed, saying so)."""
    with session_scope() as session:
        row = session.get(PreferenceSet, set_id)
        if row is None or row.state in (ImportState.done, ImportState.failed):
            return None
        if row.attempts >= MAX_ATTEMPTS:
            row.state, row.finished_at = ImportState.failed, datetime.now(UTC)
            row.error = (
                f"the train worker was lost {row.attempts} times in a row reading the rows from row "
                f"{row.rows_done} on (out of memory?); fix or remove them, then `dpoloop imports resume`"
            )
            return None
        row.attempts += 1
        row.state = ImportState.importing
        return ImportJob(row.id, row.name, row.source, row.format, row.rows_done)


def set_total(set_id: int, total: int) -> None:
    with session_scope() as session:
        session.get(PreferenceSet, set_id).rows_total = total


def known(hashes: list[str]) -> set[str]:
    with session_scope() as session:
        return repo.known_hashes(session, hashes)


def record_batch(set_id: int, pairs: list[NewPair], rows_done: int, counts: dict, bad_rows: list[dict]) -> int:
    with session_scope() as session:
        return repo.add_batch(session, set_id, pairs, rows_done, counts, bad_rows)


def finish(set_id: int) -> None:
    _end(set_id, ImportState.done, None)


def fail(set_id: int, error: str) -> None:
    _end(set_id, ImportState.failed, error)


def _end(set_id: int, state: ImportState, error: str | None) -> None:
    with session_scope() as session:
        row = session.get(PreferenceSet, set_id)
        row.state, row.error, row.finished_at = state, error, datetime.now(UTC)
