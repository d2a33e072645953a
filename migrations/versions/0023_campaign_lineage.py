"""a campaign's own lineage: training rounds, checkpoints and deployments belong to a campaign (all of an
existing install's to `default`); what serves a campaign is its newest deployment (none: the base)

Revision ID: 0023
Revises: 0022
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("training_rounds", "checkpoints", "deployments")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("campaign_id", sa.Integer(), nullable=False, server_default="1"))
            batch.create_foreign_key(f"fk_{table}_campaign_id_campaigns", "campaigns", ["campaign_id"], ["id"])
            batch.create_index(f"ix_{table}_campaign_id", ["campaign_id"])


def downgrade() -> None:
    # Without campaigns every row is default's: another campaign's checkpoints must never serve it.
    op.execute("DELETE FROM deployments WHERE campaign_id != 1")
    op.execute("UPDATE checkpoints SET status = 'broken', status_reason = 'another campaign''s checkpoint' "
               "WHERE campaign_id != 1")
    for table in reversed(TABLES):
        with op.batch_alter_table(table) as batch:
            batch.drop_index(f"ix_{table}_campaign_id")
            batch.drop_constraint(f"fk_{table}_campaign_id_campaigns", type_="foreignkey")
            batch.drop_column("campaign_id")
