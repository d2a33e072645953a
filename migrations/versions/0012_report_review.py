"""report review: reports.status (open | confirmed | dismissed) with the admin who decided and when,
and an index for the per-labeler report cap. Earlier reports count as confirmed (by "upgrade"): what
trains does not change under an admin's feet; dismissing one in the console returns its pair's votes.

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("reports") as batch:
        batch.add_column(sa.Column("status", sa.String(16), nullable=False, server_default="open"))
        batch.add_column(sa.Column("decided_by", sa.String(100), nullable=True))
        batch.add_column(sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_reports_labeler_created", ["labeler_id", "created_at"])
    columns = ("status", sa.String), ("decided_by", sa.String), ("decided_at", sa.DateTime), ("created_at", sa.DateTime)
    reports = sa.table("reports", *(sa.column(name, kind) for name, kind in columns))
    op.execute(reports.update().values(status="confirmed", decided_by="upgrade", decided_at=reports.c.created_at))


def downgrade() -> None:
    with op.batch_alter_table("reports") as batch:
        batch.drop_index("ix_reports_labeler_created")
        batch.drop_column("decided_at")
        batch.drop_column("decided_by")
        batch.drop_column("status")
