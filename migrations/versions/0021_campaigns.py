"""campaigns: several preference loops on one install; what existed becomes the campaign `default` (id 1,
open to every labeler), and the guidelines belong to a campaign

Revision ID: 0021
Revises: 0020
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    campaigns = op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("description", sa.String(500), nullable=False),
        sa.Column("open_to_all", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.bulk_insert(campaigns, [{"id": 1, "name": "default", "description": "The install's first loop.",
                                "open_to_all": True, "created_by": "install", "created_at": datetime.now(UTC)}])
    if op.get_bind().dialect.name == "postgresql":  # the next campaign gets id 2 (the seeded id set by hand)
        op.execute("SELECT setval(pg_get_serial_sequence('campaigns', 'id'), 1)")
    op.create_table(
        "campaign_members",
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("campaigns.id"), primary_key=True),
        sa.Column("labeler_id", sa.Integer(), sa.ForeignKey("labelers.id"), primary_key=True),
        sa.Column("share", sa.Float(), nullable=False),
        sa.Column("added_by", sa.String(100), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_campaign_members_labeler_id", "campaign_members", ["labeler_id"])
    with op.batch_alter_table("guidelines") as batch:
        batch.add_column(sa.Column("campaign_id", sa.Integer(), nullable=False, server_default="1"))
        batch.create_foreign_key("fk_guidelines_campaign_id_campaigns", "campaigns", ["campaign_id"], ["id"])
        batch.create_index("ix_guidelines_campaign_id", ["campaign_id"])


def downgrade() -> None:
    with op.batch_alter_table("guidelines") as batch:
        batch.drop_index("ix_guidelines_campaign_id")
        batch.drop_constraint("fk_guidelines_campaign_id_campaigns", type_="foreignkey")
        batch.drop_column("campaign_id")
    op.drop_table("campaign_members")
    op.drop_table("campaigns")
