"""serve handles: labelers are given a random token per comparison served to them, not its row id
(gold pairs are made first and live long, so their low ids told them apart from train pairs)

Revision ID: 0016
Revises: 0015
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Pairs on a labeler's screen at upgrade time get a handle when next served (their holds stay theirs).
    op.create_table(
        "serve_handles",
        sa.Column("token", sa.String(32), primary_key=True),
        sa.Column("comparison_id", sa.Integer(), sa.ForeignKey("comparisons.id", ondelete="CASCADE"), nullable=False),
        sa.Column("labeler_id", sa.Integer(), sa.ForeignKey("labelers.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("comparison_id", "labeler_id", name="uq_serve_handles_comparison_labeler"),
    )


def downgrade() -> None:
    op.drop_table("serve_handles")
