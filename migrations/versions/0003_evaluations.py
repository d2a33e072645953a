"""evaluations: new-vs-previous checkpoint comparisons on the fixed evaluation prompts

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

def upgrade() -> None:
    op.create_table(
        "evaluations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("checkpoint_id", sa.Integer(), nullable=False),
        sa.Column("baseline_id", sa.Integer(), nullable=False),
        sa.Column("pairs", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["checkpoint_id"], ["checkpoints.id"]),
        sa.ForeignKeyConstraint(["baseline_id"], ["checkpoints.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("checkpoint_id", "baseline_id", name="uq_evaluations_pair"),
    )
    # batch mode: SQLite cannot add a foreign key to an existing table in place.
    with op.batch_alter_table("comparisons") as batch:
        batch.add_column(sa.Column("evaluation_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_comparisons_evaluation", "evaluations", ["evaluation_id"], ["id"])
        batch.create_index("ix_comparisons_evaluation_id", ["evaluation_id"])


def downgrade() -> None:
    with op.batch_alter_table("comparisons") as batch:
        batch.drop_index("ix_comparisons_evaluation_id")
        batch.drop_constraint("fk_comparisons_evaluation", type_="foreignkey")
        batch.drop_column("evaluation_id")
    op.drop_table("evaluations")
