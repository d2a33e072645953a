"""trust: gold pairs (comparisons.gold_answer), an admin's override of a labeler's standing,
reports of images, and the prompt filter

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("comparisons") as batch:
        batch.add_column(sa.Column("gold_answer", sa.String(16), nullable=True))  # a | both_bad
    with op.batch_alter_table("labelers") as batch:
        batch.add_column(sa.Column("standing_override", sa.String(16), nullable=True))  # good | excluded
    op.create_table(
        "reports",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("comparison_id", sa.Integer(), sa.ForeignKey("comparisons.id"), nullable=False, index=True),
        sa.Column("labeler_id", sa.Integer(), sa.ForeignKey("labelers.id"), nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("generation_id", sa.Integer(), sa.ForeignKey("generations.id"), nullable=True),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("note", sa.String(500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("comparison_id", "labeler_id", name="uq_reports_comparison_labeler"),
    )
    op.create_table(
        "prompt_filters",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("pattern", sa.String(500), nullable=False, unique=True),
        sa.Column("is_regex", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("prompt_filters")
    op.drop_table("reports")
    with op.batch_alter_table("labelers") as batch:
        batch.drop_column("standing_override")
    with op.batch_alter_table("comparisons") as batch:
        batch.drop_column("gold_answer")
