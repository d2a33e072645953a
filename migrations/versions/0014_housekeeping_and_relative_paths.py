"""housekeeping failures (the overview lists them); checkpoint paths relative to the data dir

A checkpoint row named its folder by absolute path: a backup restored into another data dir loaded
(and retention deleted) the live instance's folders, and on another host found none. Rows now store
the path relative to the data dir. This migration rewrites what earlier versions wrote:
- a path under the data dir becomes relative to it;
- a round's checkpoint at `<some dir>/checkpoints/<its name>` (a data dir restored from elsewhere:
  rounds only ever wrote into the data dir's checkpoints folder) becomes `checkpoints/<its name>`;
- any other path (a folder placed by hand outside the data dir) stays absolute: it is still loaded
  from there, and retention never deletes it. The base model has no path (DPOLOOP_BASE_MODEL).

Revision ID: 0014
Revises: 0013
"""

from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op

from core.settings import get_settings

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

checkpoints = sa.table("checkpoints", sa.column("id", sa.Integer), sa.column("name", sa.String),
                       sa.column("path", sa.String), sa.column("round_id", sa.Integer))  # fmt: skip


def relative_form(data_dir: Path, name: str, path: str, round_id: int | None) -> str:
    """An earlier version's path (absolute, or relative to the working directory) in today's form."""
    absolute = Path(path).absolute()
    if absolute.is_relative_to(data_dir):
        return absolute.relative_to(data_dir).as_posix()
    if round_id is not None and absolute.name == name and absolute.parent.name == "checkpoints":
        return f"checkpoints/{name}"
    return str(absolute)


def upgrade() -> None:
    op.create_table(
        "housekeeping_failures",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("task", sa.String(100), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("housekeeping_failures") as batch:
        batch.create_index(batch.f("ix_housekeeping_failures_failed_at"), ["failed_at"], unique=False)
    data_dir = get_settings().data_dir.absolute()
    bind = op.get_bind()
    rows = bind.execute(sa.select(checkpoints.c.id, checkpoints.c.name, checkpoints.c.path, checkpoints.c.round_id)
                        .where(checkpoints.c.path.is_not(None))).all()  # fmt: skip
    for row_id, name, path, round_id in rows:
        new = relative_form(data_dir, name, path, round_id)
        if new != path:
            bind.execute(sa.update(checkpoints).where(checkpoints.c.id == row_id).values(path=new))


def downgrade() -> None:
    data_dir = get_settings().data_dir.absolute()
    bind = op.get_bind()
    rows = bind.execute(sa.select(checkpoints.c.id, checkpoints.c.path).where(checkpoints.c.path.is_not(None))).all()
    for row_id, path in rows:
        if not Path(path).is_absolute():
            bind.execute(sa.update(checkpoints).where(checkpoints.c.id == row_id).values(path=str(data_dir / path)))
    with op.batch_alter_table("housekeeping_failures") as batch:
        batch.drop_index(batch.f("ix_housekeeping_failures_failed_at"))
    op.drop_table("housekeeping_failures")
