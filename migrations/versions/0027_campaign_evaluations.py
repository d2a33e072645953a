"""each campaign's evaluations: the pairs of an evaluation or arena match belong to the campaign whose
lineage holds its two checkpoints (the base is every lineage's root), so its labelers rate them and its
arena ranks them; a match still rendering across two lineages cannot be ranked in one arena and fails

Revision ID: 0027
Revises: 0026
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BASE = 1
ACROSS = "its checkpoints are of two campaigns' lineages: an arena ranks one campaign's checkpoints"


def _lineages(conn, first: int, second: int) -> set[int]:
    rows = conn.execute(sa.text("SELECT id, campaign_id FROM checkpoints WHERE id IN (:a, :b)"),
                        {"a": first, "b": second}).all()  # fmt: skip
    return {campaign for checkpoint, campaign in rows if checkpoint != BASE}


def upgrade() -> None:
    conn = op.get_bind()
    for evaluation, first, second in conn.execute(
        sa.text("SELECT id, checkpoint_id, baseline_id FROM evaluations")
    ).all():
        lineages = _lineages(conn, first, second)
        if len(lineages) == 1 and lineages != {1}:
            conn.execute(sa.text("UPDATE comparisons SET campaign_id = :c WHERE evaluation_id = :e"),
                         {"c": lineages.pop(), "e": evaluation})  # fmt: skip
    for match, first, second in conn.execute(
        sa.text("SELECT id, checkpoint_a_id, checkpoint_b_id FROM arena_matches WHERE state = 'rendering'")
    ).all():
        if len(_lineages(conn, first, second)) > 1:
            failed = "UPDATE arena_matches SET state = 'failed', error = :why, finished_at = CURRENT_TIMESTAMP"
            conn.execute(sa.text(failed + " WHERE id = :m"), {"why": ACROSS, "m": match})


def downgrade() -> None:
    pass  # the campaigns stay recorded on the pairs; older code reads them as before
