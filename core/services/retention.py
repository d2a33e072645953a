"""What dpoloop deletes, and when (beat runs `apply` daily on the housekeeping queue).

- images of client generations after DPOLOOP_RETENTION_API_DAYS (they keep no latents);
- both images and latents of train pairs nobody voted on whose checkpoint no longer serves (the
  pool retired them; they can never become training data) after DPOLOOP_RETENTION_UNVOTED_DAYS;
- the files of rejected checkpoints after DPOLOOP_RETENTION_REJECTED_DAYS, unless one ever served;
- pairing candidates that were rendered but never shown (no comparison has them) after
  DPOLOOP_RETENTION_CANDIDATE_HOURS.

Never a voted or reported pair (a report's images are its evidence; the admin reviews them), an
evaluation image, the files of a checkpoint that serves, served, or another was trained from, nor
anything outside the data dir's own folders (a checkpoint path that leads elsewhere is left alone).
Each kind commits in its own transaction, then its files go: a crash in between leaves a stray
file, never a row pointing at a missing one, and one kind that fails (its rows roll back) keeps
none of the others from running; the failure is recorded for the admin overview's last failures.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, exists, or_, select, update
from sqlalchemy.orm import Session

from core.db.models import Checkpoint, Comparison, Deployment, Generation, Report, Vote
from core.db.session import session_scope
from core.paths import lies_within, stored_path
from core.repo import generations as generations_repo
from core.services import housekeeping
from core.settings import Settings
from core.states import CheckpointStatus, ComparisonKind, ComparisonState, GenerationPurpose
from core.storage import LATENTS, MEDIA, NotPublished, Storage, StoreUnavailable, check_key, storage

log = logging.getLogger(__name__)
TASK = "retention"
PAIRS_PER_STATEMENT = 5000


@dataclass
class RetentionReport:
    api_images: int = 0
    unvoted_pairs: int = 0
    unshown_candidates: int = 0
    checkpoints: list[int] = field(default_factory=list)
    files: int = 0
    outside_data_dir: list[int] = field(default_factory=list)  # rejected checkpoints whose folder was left alone
    failures: list[str] = field(default_factory=list)  # "<what>: <why>", one per kind that failed


@dataclass
class Doomed:
    """What one kind of deletion took out of the database, and the files to delete once that commits."""

    done: int | list[int] = 0
    files: list[str] = field(default_factory=list)  # storage keys
    folders: list[str] = field(default_factory=list)  # storage keys of published folders


def _forget_files(session, settings: Settings, ids) -> tuple[list[Path], int]:
    """Clear the file paths of the generations `ids` selects (a query or a list); the files (storage
    keys) to delete once the transaction commits, and how many rows."""
    rows = session.execute(select(Generation.image_path, Generation.latents_path).where(Generation.id.in_(ids))).all()
    paths = []
    for image_path, latents_path in rows:
        if image_path:
            paths.append(f"{MEDIA}/{image_path}")
        if latents_path:
            paths.append(f"{LATENTS}/{latents_path}")
    cleared = session.execute(update(Generation).where(Generation.id.in_(ids))
                              .values(image_path=None, latents_path=None)).rowcount  # fmt: skip
    return paths, cleared


def _client_images(session: Session, settings: Settings, now: datetime, report: RetentionReport) -> Doomed:
    old_api = select(Generation.id).where(
        Generation.purpose == GenerationPurpose.api, Generation.image_path.is_not(None),
        Generation.finished_at < now - timedelta(days=settings.retention_api_days),
    )  # fmt: skip
    files, cleared = _forget_files(session, settings, old_api)
    return Doomed(cleared, files)


def _unvoted_comparisons(session: Session, settings: Settings, now: datetime, report: RetentionReport) -> Doomed:
    """Train pairs retired without a vote or a report."""
    unvoted = select(Comparison.id, Comparison.generation_a_id, Comparison.generation_b_id).where(
        Comparison.kind == ComparisonKind.train, Comparison.state == ComparisonState.retired,
        Comparison.created_at < now - timedelta(days=settings.retention_unvoted_days),
        ~exists().where(Vote.comparison_id == Comparison.id), ~exists().where(Report.comparison_id == Comparison.id),
    )  # fmt: skip
    pairs = session.execute(unvoted).all()
    doomed = Doomed(len(pairs))
    # In slices: an install whose retention stopped long ago has more pairs than a statement may
    # bind parameters (SQLite 32,766, Postgres 65,535).
    for start in range(0, len(pairs), PAIRS_PER_STATEMENT):
        part = pairs[start : start + PAIRS_PER_STATEMENT]
        doomed.files += _forget_files(session, settings, [g for _, a, b in part for g in (a, b)])[0]
        session.execute(delete(Comparison).where(Comparison.id.in_([c for c, _, _ in part])))
    return doomed


def _unshown_candidates(session: Session, settings: Settings, now: datetime, report: RetentionReport) -> Doomed:
    unshown = select(Generation.id).where(
        Generation.purpose == GenerationPurpose.pool, Generation.image_path.is_not(None), ~generations_repo.shown(),
        Generation.finished_at < now - timedelta(hours=settings.retention_candidate_hours),
    )  # fmt: skip
    files, cleared = _forget_files(session, settings, unshown)
    return Doomed(cleared, files)


def _rejected_checkpoints(session: Session, settings: Settings, now: datetime, report: RetentionReport) -> Doomed:
    """Rejected checkpoints that never served and that nothing was trained from; only folders inside
    the data dir's checkpoints folder (a path that leads elsewhere may be another install's)."""
    kept_apart = or_(
        exists().where(Deployment.checkpoint_id == Checkpoint.id),
        Checkpoint.id.in_(select(Checkpoint.parent_id).where(Checkpoint.parent_id.is_not(None))),
    )
    stale = session.scalars(select(Checkpoint).where(
        Checkpoint.status == CheckpointStatus.rejected, Checkpoint.path.is_not(None), ~kept_apart,
        Checkpoint.created_at < now - timedelta(days=settings.retention_rejected_days),
    )).all()  # fmt: skip
    doomed = Doomed([])
    store = storage(settings)
    for checkpoint in stale:
        key = stored_path(settings.data_dir, Path(checkpoint.path)) if store.local else checkpoint.path  # an old
        # row's absolute path into the data dir reads as its key
        if (Path(key).is_absolute() or not key.startswith("checkpoints/") or _not_a_key(key)
                or store.local and not lies_within(settings.checkpoints_dir, Path(store.path(key)))):  # a link out
            log.warning("retention leaves checkpoint %s's files alone: %s is not in the storage's checkpoints/",
                        checkpoint.id, key)  # fmt: skip
            report.outside_data_dir.append(checkpoint.id)
            continue
        try:
            store.folder_files(key)
        except NotPublished:
            continue  # gone already
        doomed.folders.append(key)
        note = f"files removed after {settings.retention_rejected_days:g} days"
        checkpoint.status_reason = f"{checkpoint.status_reason}; {note}" if checkpoint.status_reason else note
        doomed.done.append(checkpoint.id)
    return doomed


KINDS: dict[str, tuple[str, Callable[[Session, Settings, datetime, RetentionReport], Doomed]]] = {
    "client images": ("api_images", _client_images),
    "unvoted train pairs": ("unvoted_pairs", _unvoted_comparisons),
    "unshown candidates": ("unshown_candidates", _unshown_candidates),
    "rejected checkpoints": ("checkpoints", _rejected_checkpoints),
}


def _not_a_key(path: str) -> bool:
    try:
        check_key(path)
    except ValueError:
        return True
    return False


def _delete(doomed: Doomed, store: Storage) -> tuple[int, list[str]]:
    """Delete the files and folders (their rows have let go of them); how many went, and what failed."""
    gone, errors = 0, []
    for key in doomed.files:
        try:
            store.delete(key)
            gone += 1
        except (OSError, StoreUnavailable) as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
    for prefix in doomed.folders:
        try:
            store.delete_dir(prefix)
            gone += 1
        except (OSError, StoreUnavailable) as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
    return gone, errors


def apply(settings: Settings, now: datetime | None = None) -> RetentionReport:
    """Each kind in its own transaction; a failed kind is logged, reported and recorded for the overview."""
    now = now or datetime.now(UTC)
    report = RetentionReport()
    for what, (counter, select_doomed) in KINDS.items():
        try:
            with session_scope() as session:
                doomed = select_doomed(session, settings, now, report)
        except Exception as exc:
            log.exception("retention of %s failed; its rows rolled back", what)
            report.failures.append(f"{what}: {type(exc).__name__}: {exc}")
            continue
        setattr(report, counter, doomed.done)
        gone, errors = _delete(doomed, storage(settings))
        report.files += gone
        if errors:
            report.failures.append(f"{what}: {len(errors)} files could not be deleted, the first: {errors[0]}")
    if report.failures:
        housekeeping.record_failure(TASK, "; ".join(report.failures))
    return report
