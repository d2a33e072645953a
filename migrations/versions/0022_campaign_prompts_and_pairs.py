"""a campaign's own prompts and pairs: prompts and comparisons belong to a campaign (all of an existing
install's to `default`); a prompt's text is unique within its campaign, so two campaigns may share one

Revision ID: 0022
Revises: 0021
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite's unique constraint from 0001 has no name: batch mode names what it reflects by this.
NAMES = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def _old_unique() -> str:
    return "prompts_text_key" if op.get_bind().dialect.name == "postgresql" else "uq_prompts_text"


def upgrade() -> None:
    with op.batch_alter_table("prompts", naming_convention=NAMES) as batch:
        batch.add_column(sa.Column("campaign_id", sa.Integer(), nullable=False, server_default="1"))
        batch.create_foreign_key("fk_prompts_campaign_id_campaigns", "campaigns", ["campaign_id"], ["id"])
        batch.drop_constraint(_old_unique(), type_="unique")
        batch.create_unique_constraint("uq_prompts_campaign_text", ["campaign_id", "text"])
    with op.batch_alter_table("comparisons") as batch:
        batch.add_column(sa.Column("campaign_id", sa.Integer(), nullable=False, server_default="1"))
        batch.create_foreign_key("fk_comparisons_campaign_id_campaigns", "campaigns", ["campaign_id"], ["id"])
        batch.create_index("ix_comparisons_campaign_id", ["campaign_id"])


def downgrade() -> None:
    # Prompts of other campaigns (and their pairs) have no place in a schema without campaigns.
    op.execute("DELETE FROM votes WHERE comparison_id IN (SELECT id FROM comparisons WHERE campaign_id != 1)")
    op.execute("DELETE FROM serve_handles WHERE comparison_id IN (SELECT id FROM comparisons WHERE campaign_id != 1)")
    op.execute("DELETE FROM reports WHERE comparison_id IN (SELECT id FROM comparisons WHERE campaign_id != 1)")
    op.execute("DELETE FROM comparisons WHERE campaign_id != 1")
    op.execute("UPDATE generations SET prompt_id = NULL "
               "WHERE prompt_id IN (SELECT id FROM prompts WHERE campaign_id != 1)")
    op.execute("DELETE FROM prompts WHERE campaign_id != 1")
    with op.batch_alter_table("comparisons") as batch:
        batch.drop_index("ix_comparisons_campaign_id")
        batch.drop_constraint("fk_comparisons_campaign_id_campaigns", type_="foreignkey")
        batch.drop_column("campaign_id")
    with op.batch_alter_table("prompts", naming_convention=NAMES) as batch:
        batch.drop_constraint("uq_prompts_campaign_text", type_="unique")
        batch.create_unique_constraint(_old_unique(), ["text"])
        batch.drop_constraint("fk_prompts_campaign_id_campaigns", type_="foreignkey")
        batch.drop_column("campaign_id")
