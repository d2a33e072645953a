"""imported preference sets belong to a campaign (an existing install's to `default`): a round trains on
the sets of its own campaign only

Revision ID: 0025
Revises: 0024
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("preference_sets") as batch:
        batch.add_column(sa.Column("campaign_id", sa.Integer(), nullable=False, server_default="1"))
        batch.create_foreign_key("fk_preference_sets_campaign_id_campaigns", "campaigns", ["campaign_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("preference_sets") as batch:
        batch.drop_constraint("fk_preference_sets_campaign_id_campaigns", type_="foreignkey")
        batch.drop_column("campaign_id")
