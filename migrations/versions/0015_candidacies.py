"""candidacies: a gated checkpoint waits for the labelers' blind verdict before it serves

Revision ID: 0015
Revises: 0014
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "candidacies",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("checkpoint_id", sa.Integer(), sa.ForeignKey("checkpoints.id"), nullable=False, unique=True),
        sa.Column("serving_id", sa.Integer(), sa.ForeignKey("checkpoints.id"), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("wins", sa.Integer(), nullable=False),
        sa.Column("losses", sa.Integer(), nullable=False),
        sa.Column("ties", sa.Integer(), nullable=False),
        sa.Column("votes_needed_estimate", sa.Integer(), nullable=True),
        sa.Column("bounds", sa.JSON(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_candidacies_state", "candidacies", ["state", "id"])


def downgrade() -> None:
    op.drop_index("ix_candidacies_state", table_name="candidacies")
    op.drop_table("candidacies")
