"""Evaluation seeds on SQLite and Postgres: each evaluation draws its own from the install's secret, so
no image of one evaluation (nor its seed) turns up in another, and nobody can render one ahead."""

import pytest

from core.db.migrate import upgrade
from core.db.session import session_scope
from core.repo.evaluations import evaluation_requests, grid_requests
from core.repo.prompts import add_prompts
from core.settings import get_settings
from tests.conftest import apply_settings


@pytest.fixture(params=["sqlite", "postgres"])
def any_db(request):
    """The install's secret is read from each database."""
    return request.getfixturevalue("sqlite_db" if request.param == "sqlite" else "pg_settings")


def with_eval_prompts() -> None:
    with session_scope() as session:
        add_prompts(session, ["a red circle", "a blue square"], for_eval=True)


def seeds(checkpoint_id: int, baseline_id: int) -> list[int]:
    with session_scope() as session:
        return [r.params.seed for r in evaluation_requests(session, get_settings(), checkpoint_id, baseline_id)]


def test_each_evaluation_has_its_own_seeds_from_the_install_secret(any_db, monkeypatch, tmp_path):
    apply_settings(monkeypatch, eval_seeds_per_prompt=2)
    with_eval_prompts()
    first = seeds(2, 1)  # checkpoint 2 against the base
    assert len(set(first)) == 4  # 2 prompts × 2 seeds
    assert seeds(2, 1) == first  # reproducible: a step lost to a crash finds the images it made
    # The next promotion (3 against 2), a rollback (1 against 2), a match (3 against 1): none shares a seed.
    for other in (seeds(3, 2), seeds(1, 2), seeds(3, 1)):
        assert set(other).isdisjoint(first)
    with session_scope() as session:  # nor does the admins' same-seed grid, which keeps its fixed seeds
        grid = [r.params.seed for r in grid_requests(session, get_settings())]
    assert len(grid) == 4 and set(grid).isdisjoint(first)

    # Another install (its own secret, made by its first migration) draws other seeds for the same evaluation.
    apply_settings(monkeypatch, database_url=f"sqlite:///{tmp_path / 'other-install.sqlite3'}",
                   eval_seeds_per_prompt=2)  # fmt: skip
    upgrade()
    with_eval_prompts()
    elsewhere = seeds(2, 1)
    assert len(set(elsewhere)) == 4 and set(elsewhere).isdisjoint(first)
