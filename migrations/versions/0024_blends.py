"""blends of campaigns' adapters at serving time: each campaign's weight in the install's default blend
(default's 1, others' 0: an install that sets none serves as before), and on a generation the blend a
client asked for (campaign name → weight) and the one that made it (checkpoint id → weight)

Revision ID: 0024
Revises: 0023
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("blend_weight", sa.Float(), nullable=False, server_default="0"))
    op.execute("UPDATE campaigns SET blend_weight = 1 WHERE id = 1")
    with op.batch_alter_table("generations") as batch:
        batch.add_column(sa.Column("requested_adapters", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("blend", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("generations") as batch:
        batch.drop_column("blend")
        batch.drop_column("requested_adapters")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("blend_weight")
