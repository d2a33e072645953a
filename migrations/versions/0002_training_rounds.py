"""training rounds: one-at-a-time slot, snapshot, lineage, cancel, liveness; per-step metrics

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROUND_COLUMNS = [
    sa.Column("active_slot", sa.Integer(), nullable=True),
    sa.Column("snapshot_vote_id", sa.Integer(), nullable=True),
    sa.Column("start_checkpoint_id", sa.Integer(), nullable=True),
    sa.Column("reference_checkpoint_id", sa.Integer(), nullable=True),
    sa.Column("cancel_requested", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
]


def upgrade() -> None:
    # batch mode: SQLite cannot add constraints to an existing table in place.
    with op.batch_alter_table("training_rounds") as batch:
        for column in ROUND_COLUMNS:
            batch.add_column(column)
        batch.create_unique_constraint("uq_training_rounds_active_slot", ["active_slot"])
        batch.create_foreign_key("fk_training_rounds_start", "checkpoints", ["start_checkpoint_id"], ["id"])
        batch.create_foreign_key("fk_training_rounds_reference", "checkpoints", ["reference_checkpoint_id"], ["id"])
    op.create_table(
        "round_steps",
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["round_id"], ["training_rounds.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("round_id", "step"),
    )


def downgrade() -> None:
    op.drop_table("round_steps")
    with op.batch_alter_table("training_rounds") as batch:
        batch.drop_constraint("fk_training_rounds_reference", type_="foreignkey")
        batch.drop_constraint("fk_training_rounds_start", type_="foreignkey")
        batch.drop_constraint("uq_training_rounds_active_slot", type_="unique")
        for column in reversed(ROUND_COLUMNS):
            batch.drop_column(column.name)
