"""guidelines: what labelers are asked and told, versioned; each vote names the version it was cast under

Revision ID: 0019
Revises: 0018
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "guidelines",
        sa.Column("version", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("question", sa.String(300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("set_by", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("votes") as batch:
        batch.add_column(sa.Column("guidelines_version", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("votes") as batch:
        batch.drop_column("guidelines_version")
    op.drop_table("guidelines")
