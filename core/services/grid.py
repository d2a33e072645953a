"""The same-seed image grid of a checkpoint: the evaluation prompts × fixed seeds rendered by the
base, the checkpoint's parent and the checkpoint itself, side by side.

Its seeds are its own (human evaluations draw theirs per evaluation, so a labeler never meets an
image twice), the same for every checkpoint: a column once rendered serves every grid it is in.
Missing images are rendered by the generate worker a chunk at a time (worker/tasks/grid.py), each
chunk its own task, so a client's generation request never waits behind a whole grid.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from pydantic import computed_field

from core.db.models import Checkpoint
from core.db.session import session_scope
from core.queue import RENDER_GRID, send
from core.refs import CheckpointRef
from core.repo import evaluations as repo
from core.repo.checkpoints import checkpoint_files_ok, checkpoint_ref, lineage_campaign
from core.repo.evaluations import EvaluationRequest
from core.settings import Settings
from core.states import BASE_CHECKPOINT_ID, CheckpointStatus


@dataclass(frozen=True)
class GridColumn:
    checkpoint_id: int
    name: str
    role: str  # base | parent | checkpoint
    problem: str | None  # why it cannot render (broken, files missing), or None


@dataclass(frozen=True)
class GridRow:
    prompt: str
    seed: int
    images: list[str | None]  # per column: the image's media path (served as a signed link), None while missing


@dataclass(frozen=True)
class Grid:
    """The fixed evaluation prompts × seeds rendered by the base, the parent and the checkpoint."""

    columns: list[GridColumn]
    rows: list[GridRow]
    queued: bool  # missing images were just queued for rendering

    @computed_field  # served with the grid, as is `made`
    @property
    def total(self) -> int:
        return len(self.rows) * len(self.columns)

    @computed_field
    @property
    def made(self) -> int:
        return sum(image is not None for row in self.rows for image in row.images)

    def missing_for(self) -> list[int]:
        """Columns with images still to make that can make them."""
        return [c.checkpoint_id for i, c in enumerate(self.columns)
                if c.problem is None and any(row.images[i] is None for row in self.rows)]  # fmt: skip


def grid(settings: Settings, checkpoint_id: int) -> Grid:
    """LookupError when the checkpoint does not exist."""
    with session_scope() as session:
        checkpoint = session.get(Checkpoint, checkpoint_id)
        if checkpoint is None:
            raise LookupError(f"checkpoint {checkpoint_id} does not exist")
        wanted = [(BASE_CHECKPOINT_ID, "base"), (checkpoint.parent_id, "parent"), (checkpoint_id, "checkpoint")]
        columns, seen = [], set()
        for column_id, role in reversed(wanted):  # the most specific role wins when ids coincide
            if column_id is not None and column_id not in seen:
                seen.add(column_id)
                row = session.get(Checkpoint, column_id)
                columns.insert(0, GridColumn(column_id, row.name, role, _problem(row)))
        requests = repo.grid_requests(session, settings, lineage_campaign(session, checkpoint_id))  # its prompts
        made = [repo.made_image_paths(session, c.checkpoint_id, requests) for c in columns]
    rows = [GridRow(r.params.prompt, r.params.seed, [paths[i] for paths in made]) for i, r in enumerate(requests)]
    return Grid(columns, rows, queued=False)


def request_grid(settings: Settings, checkpoint_id: int) -> Grid:
    """The grid, with its missing images queued for rendering (QueueUnavailable if they cannot be)."""
    found = grid(settings, checkpoint_id)
    missing = found.missing_for()
    if missing:
        with session_scope() as session:  # whose evaluation prompts: the base's column alone cannot tell
            campaign_id = lineage_campaign(session, checkpoint_id)
        send(RENDER_GRID, missing, campaign_id)
    return replace(found, queued=bool(missing))


@dataclass(frozen=True)
class GridChunk:
    checkpoint: CheckpointRef
    requests: list[EvaluationRequest]


def next_chunk(settings: Settings, checkpoint_ids: list[int], campaign_id: int | None = None) -> GridChunk | None:
    """The next images to render for these columns (a pool batch's worth) on the evaluation prompts of the
    grid's campaign (None: the columns' lineage), or None when all exist."""
    with session_scope() as session:
        campaign_id = campaign_id or lineage_campaign(session, *checkpoint_ids)
        requests = repo.grid_requests(session, settings, campaign_id)
        for checkpoint_id in checkpoint_ids:
            row = session.get(Checkpoint, checkpoint_id)
            if row is None or _problem(row):
                continue
            images = repo.made_images(session, checkpoint_id, requests)
            missing = [requests[i] for i, image in enumerate(images) if image is None]
            if missing:
                return GridChunk(checkpoint_ref(session, checkpoint_id), missing[: 2 * settings.pool_batch])
    return None


def _problem(checkpoint: Checkpoint) -> str | None:
    if checkpoint.status == CheckpointStatus.broken:
        return f"broken: {checkpoint.status_reason}"
    return checkpoint_files_ok(checkpoint)
