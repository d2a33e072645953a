"""pairing: the strategy that chose each train pair (comparisons.pairing); earlier pairs were random

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("comparisons") as batch:
        batch.add_column(sa.Column("pairing", sa.String(16), nullable=True))  # random | diverse
    op.execute("UPDATE comparisons SET pairing = 'random' WHERE kind = 'train'")


def downgrade() -> None:
    with op.batch_alter_table("comparisons") as batch:
        batch.drop_column("pairing")
