"""What dpoloop deletes, and when (beat runs `apply` daily on the housekeeping queue).

- images of client generations after DPOLOOP_RETENTION_API_DAYS (they keep no latents);
- both images and latents of train pairs nobody voted on whose checkpoint no longer serves (the
  pool retired them; they can never become training data) after DPOLOOP_RETENTION_UNVOTED_DAYS;
- the files of rejected checkpoints after DPOLOOP_RETENTION_REJECTED_DAYS, unless one ever served;
- pairing candidates that were rendered but never shown (no comparison has them) after
  DPOLOOP_RETENTION_CANDIDATE_HOURS.

Never a voted pair's files, an evaluation image, or the files of a checkpoint that serves, served,
or another was trained from. The database changes commit first, then the files go: a crash in
between leaves a stray file, never a row pointing at a missing one.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, exists, or_, select, update

from core.db.models import Checkpoint, Comparison, Deployment, Generation, Vote
from core.db.session import session_scope
from core.repo import generations as generations_repo
from core.settings import Settings
from core.states import CheckpointStatus, ComparisonKind, ComparisonState, GenerationPurpose


@dataclass
class RetentionReport:
    api_images: int = 0
    unvoted_pairs: int = 0
    unshown_candidates: int = 0
    checkpoints: list[int] = field(default_factory=list)
    files: int = 0


def _forget_files(session, settings: Settings, ids) -> tuple[list[Path], int]:
    """Clear the file paths of the generations `ids` selects (a query or a list); the files to delete
    once the transaction commits, and how many rows."""
    rows = session.execute(select(Generation.image_path, Generation.latents_path).where(Generation.id.in_(ids))).all()
    paths = []
    for image_path, latents_path in rows:
        if image_path:
            paths.append(settings.media_dir / image_path)
        if latents_path:
            paths.append(settings.latents_dir / latents_path)
    cleared = session.execute(update(Generation).where(Generation.id.in_(ids))
                              .values(image_path=None, latents_path=None)).rowcount  # fmt: skip
    return paths, cleared


def apply(settings: Settings, now: datetime | None = None) -> RetentionReport:
    now = now or datetime.now(UTC)
    report, doomed_files, doomed_dirs = RetentionReport(), [], []
    with session_scope() as session:
        # Client images past their days.
        old_api = select(Generation.id).where(
            Generation.purpose == GenerationPurpose.api, Generation.image_path.is_not(None),
            Generation.finished_at < now - timedelta(days=settings.retention_api_days),
        )  # fmt: skip
        files, report.api_images = _forget_files(session, settings, old_api)
        doomed_files += files
        # Train pairs retired without a vote.
        unvoted = select(Comparison.id, Comparison.generation_a_id, Comparison.generation_b_id).where(
            Comparison.kind == ComparisonKind.train, Comparison.state == ComparisonState.retired,
            Comparison.created_at < now - timedelta(days=settings.retention_unvoted_days),
            ~exists().where(Vote.comparison_id == Comparison.id),
        )  # fmt: skip
        pairs = session.execute(unvoted).all()
        generation_ids = [g for _, a, b in pairs for g in (a, b)]
        if pairs:
            doomed_files += _forget_files(session, settings, generation_ids)[0]
            session.execute(delete(Comparison).where(Comparison.id.in_([c for c, _, _ in pairs])))
        report.unvoted_pairs = len(pairs)
        # Pairing candidates no comparison shows.
        unshown = select(Generation.id).where(
            Generation.purpose == GenerationPurpose.pool, Generation.image_path.is_not(None), ~generations_repo.shown(),
            Generation.finished_at < now - timedelta(hours=settings.retention_candidate_hours),
        )  # fmt: skip
        files, report.unshown_candidates = _forget_files(session, settings, unshown)
        doomed_files += files
        # Rejected checkpoints that never served and that nothing was trained from.
        kept_apart = or_(
            exists().where(Deployment.checkpoint_id == Checkpoint.id),
            Checkpoint.id.in_(select(Checkpoint.parent_id).where(Checkpoint.parent_id.is_not(None))),
        )
        stale = session.scalars(select(Checkpoint).where(
            Checkpoint.status == CheckpointStatus.rejected, Checkpoint.path.is_not(None), ~kept_apart,
            Checkpoint.created_at < now - timedelta(days=settings.retention_rejected_days),
        )).all()  # fmt: skip
        for checkpoint in stale:
            if Path(checkpoint.path).exists():
                doomed_dirs.append(Path(checkpoint.path))
                note = f"files removed after {settings.retention_rejected_days:g} days"
                checkpoint.status_reason = f"{checkpoint.status_reason}; {note}" if checkpoint.status_reason else note
                report.checkpoints.append(checkpoint.id)
    for path in doomed_files:
        path.unlink(missing_ok=True)
    for directory in doomed_dirs:
        shutil.rmtree(directory, ignore_errors=True)
    report.files = len(doomed_files) + len(doomed_dirs)
    return report
