"""round claims and the install's secret

A running round carries the token of the claim that runs it: heartbeats, its end and its checkpoint
count only under that claim, so a round declared lost can never succeed or promote later.
The install table holds one row with a random secret made now, kept with the data: it keys which
side of a pair a labeler sees and the evaluation seeds, so neither can be worked out from public ids.

Revision ID: 0004
Revises: 0003
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("training_rounds") as batch:
        batch.add_column(sa.Column("claim_token", sa.String(length=32), nullable=True))
    install = op.create_table(
        "install",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("secret", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(install, [{"id": 1, "secret": secrets.token_hex(32)}])


def downgrade() -> None:
    op.drop_table("install")
    with op.batch_alter_table("training_rounds") as batch:
        batch.drop_column("claim_token")
