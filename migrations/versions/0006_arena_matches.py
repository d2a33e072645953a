"""arena matches: an admin's request to compare any two checkpoints on the evaluation set

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "arena_matches",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("checkpoint_a_id", sa.Integer(), sa.ForeignKey("checkpoints.id"), nullable=False),
        sa.Column("checkpoint_b_id", sa.Integer(), sa.ForeignKey("checkpoints.id"), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("requested_by", sa.String(100), nullable=False),
        sa.Column("evaluation_id", sa.Integer(), sa.ForeignKey("evaluations.id"), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_arena_matches_state", "arena_matches", ["state", "id"])
    # A promotion's evaluation (against the checkpoint it replaced) or an arena match's.
    with op.batch_alter_table("evaluations") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="promotion"))


def downgrade() -> None:
    with op.batch_alter_table("evaluations") as batch:
        batch.drop_column("kind")
    op.drop_index("ix_arena_matches_state", table_name="arena_matches")
    op.drop_table("arena_matches")
