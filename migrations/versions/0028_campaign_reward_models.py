"""each campaign learns its own labelers: a preference model version belongs to a campaign (an existing
install's versions to `default`, the only campaign they could learn from), and one version per campaign
is in flight at a time

Revision ID: 0028
Revises: 0027
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("reward_models") as batch:
        batch.add_column(sa.Column("campaign_id", sa.Integer(), nullable=False, server_default="1"))
        batch.create_foreign_key("fk_reward_models_campaign_id_campaigns", "campaigns", ["campaign_id"], ["id"])
        batch.create_index("ix_reward_models_campaign_id", ["campaign_id"])
        batch.drop_constraint("uq_reward_models_slot", type_="unique")
        batch.create_unique_constraint("uq_reward_models_campaign_slot", ["campaign_id", "slot"])


def downgrade() -> None:
    # Older code knows one model: the default campaign's versions stay, the others' rows go (their files
    # stay in the data dir).
    op.execute("DELETE FROM reward_models WHERE campaign_id <> 1")
    with op.batch_alter_table("reward_models") as batch:
        batch.drop_constraint("uq_reward_models_campaign_slot", type_="unique")
        batch.create_unique_constraint("uq_reward_models_slot", ["slot"])
        batch.drop_index("ix_reward_models_campaign_id")
        batch.drop_constraint("fk_reward_models_campaign_id_campaigns", type_="foreignkey")
        batch.drop_column("campaign_id")
