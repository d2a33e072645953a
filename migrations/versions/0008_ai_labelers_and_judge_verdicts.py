"""AI labelers (labelers.is_ai: an automatic judge voting through the API, `dpoloop ai-label`) and
each evaluation's verdict by the automatic judge, beside the humans'

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("labelers") as batch:
        batch.add_column(sa.Column("is_ai", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("evaluations") as batch:
        batch.add_column(sa.Column("judge_verdict", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("evaluations") as batch:
        batch.drop_column("judge_verdict")
    with op.batch_alter_table("labelers") as batch:
        batch.drop_column("is_ai")
