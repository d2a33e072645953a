"""reward models: the install's preference model, one row per trained version

Revision ID: 0017
Revises: 0016
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reward_models",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=True),
        sa.Column("features", sa.String(200), nullable=False),
        sa.Column("requested_by", sa.String(100), nullable=False),
        sa.Column("snapshot_vote_id", sa.Integer(), nullable=True),
        sa.Column("votes", sa.Integer(), nullable=True),
        sa.Column("train_pairs", sa.Integer(), nullable=True),
        sa.Column("held_out_pairs", sa.Integer(), nullable=True),
        sa.Column("held_out_accuracy", sa.Float(), nullable=True),
        sa.Column("ceilings", sa.JSON(), nullable=False),
        sa.Column("card", sa.JSON(), nullable=False),
        sa.Column("path", sa.String(500), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("slot", name="uq_reward_models_slot"),
    )
    op.create_index("ix_reward_models_state", "reward_models", ["state"])


def downgrade() -> None:
    op.drop_index("ix_reward_models_state", table_name="reward_models")
    op.drop_table("reward_models")
