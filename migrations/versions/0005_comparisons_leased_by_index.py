"""an index on comparisons.leased_by: a labeler's holds are found without scanning the pool

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_comparisons_leased_by", "comparisons", ["leased_by"])


def downgrade() -> None:
    op.drop_index("ix_comparisons_leased_by", table_name="comparisons")
