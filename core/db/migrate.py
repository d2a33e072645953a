"""Run Alembic migrations from code (`dpoloop migrate`, `dpoloop up`, the tests)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from core.paths import REPO_ROOT
from core.settings import get_settings


def alembic_config() -> Config:
    config = Config(str(REPO_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(REPO_ROOT / "migrations"))
    return config


def upgrade(revision: str = "head") -> None:
    settings = get_settings()
    if settings.sqlalchemy_url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(), revision)


def downgrade(revision: str) -> None:
    command.downgrade(alembic_config(), revision)
