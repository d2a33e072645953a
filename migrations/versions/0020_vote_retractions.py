"""vote retractions: a labeler's undo of their latest vote leaves a trace (the vote row itself is deleted)

Revision ID: 0020
Revises: 0019
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "vote_retractions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("vote_id", sa.Integer(), nullable=False),
        sa.Column("comparison_id", sa.Integer(), nullable=False),
        sa.Column("labeler_id", sa.Integer(), sa.ForeignKey("labelers.id"), nullable=False),
        sa.Column("choice", sa.String(16), nullable=False),
        sa.Column("cast_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retracted_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_vote_retractions_comparison_id", "vote_retractions", ["comparison_id"])
    op.create_index("ix_vote_retractions_labeler_id", "vote_retractions", ["labeler_id"])


def downgrade() -> None:
    op.drop_table("vote_retractions")
