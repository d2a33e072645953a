"""Task: render a chunk of a checkpoint grid's missing images (core/services/grid.py), then queue
the rest as a new task, behind whatever else waits on the generate queue."""

from __future__ import annotations

from core.queue import RENDER_GRID, celery_app, send
from core.services import grid
from core.settings import get_settings
from worker.serving import model_server
from worker.tasks.evaluation import make_images


@celery_app.task(name=RENDER_GRID)
def render_grid(checkpoint_ids: list[int], campaign_id: int | None = None) -> int:
    """Images rendered by this chunk on the campaign's evaluation prompts (0: the grid is complete)."""
    chunk = grid.next_chunk(get_settings(), checkpoint_ids, campaign_id)
    if chunk is None:
        return 0
    make_images(model_server(), chunk.checkpoint, chunk.requests)
    send(RENDER_GRID, checkpoint_ids, campaign_id)
    return len(chunk.requests)
