"""Alembic migrations up and down, on Postgres and SQLite, and in step with the models."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select

from core.db.models import Base, Checkpoint, Deployment
from core.db.session import engine_for, session_scope
from tests.conftest import apply_settings


@pytest.fixture(params=["postgres", "sqlite"])
def database_url(request, monkeypatch, tmp_path):
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
    else:
        url = f"sqlite:///{tmp_path / 'm.sqlite3'}"
    apply_settings(monkeypatch, database_url=url, data_dir=tmp_path / "data")
    return url


def test_upgrade_downgrade_upgrade(database_url):
    from core.db.migrate import downgrade, upgrade

    upgrade()
    tables = set(inspect(engine_for(database_url)).get_table_names())
    assert {"labelers", "prompts", "checkpoints", "deployments", "generations", "comparisons", "votes",
            "training_rounds", "worker_heartbeats", "alembic_version"} <= tables  # fmt: skip
    downgrade("base")
    assert set(inspect(engine_for(database_url)).get_table_names()) <= {"alembic_version"}
    upgrade()
    with session_scope() as session:
        base = session.get(Checkpoint, 1)
        assert base.kind == "base" and base.name == "base"
        assert session.scalars(select(Deployment.checkpoint_id)).all() == [1]
        # The next checkpoint gets id 2 (the seeded id did not confuse the sequence).
        session.add(Checkpoint(name="next", kind="lora", path="/x"))
        session.flush()
        assert session.scalars(select(Checkpoint.id).order_by(Checkpoint.id)).all() == [1, 2]


def test_models_match_the_migrations(database_url):
    from core.db.migrate import upgrade

    upgrade()
    with engine_for(database_url).connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], "the models changed without a migration: run `alembic revision --autogenerate`"


def insert(conn, table: str, **values) -> None:
    from sqlalchemy import text

    columns = ", ".join(values)
    conn.execute(text(f"INSERT INTO {table} ({columns}) VALUES ({', '.join(':' + c for c in values)})"), values)


def insert_pair(conn, now, state: str, vote_count: int) -> None:
    """Labeler 7 and comparison 3 of generations 1 and 2, as raw rows (for a schema older than the models)."""
    insert(conn, "labelers", id=7, name="ann", role="labeler", token_hash="h", active=True, created_at=now)
    for gid in (1, 2):
        insert(conn, "generations", id=gid, public_id=f"g{gid}", prompt="a red circle", params="{}", seed=1,
               purpose="pool", status="done", created_at=now)  # fmt: skip
    insert(conn, "comparisons", id=3, prompt="a red circle", generation_a_id=1, generation_b_id=2, kind="train",
           state=state, checkpoint_id=1, vote_count=vote_count, created_at=now)  # fmt: skip


def test_upgrades_keep_existing_votes(database_url):
    """A table rebuilt by a later migration (SQLite copies tables to alter them) keeps the rows that
    other tables point at: comparisons with votes survive 0002 → head → 0002 → head."""
    from datetime import UTC, datetime

    from sqlalchemy import text

    from core.db.migrate import downgrade, upgrade

    upgrade("0002")
    now = datetime.now(UTC)
    with engine_for(database_url).begin() as conn:
        insert_pair(conn, now, state="done", vote_count=1)
        insert(conn, "votes", id=4, comparison_id=3, labeler_id=7, choice="left", left_generation_id=1,
               winner_generation_id=1, created_at=now)  # fmt: skip
    upgrade()
    downgrade("0002")
    upgrade()
    with engine_for(database_url).connect() as conn:
        assert conn.execute(text("SELECT comparison_id, choice FROM votes")).all() == [(3, "left")]
        assert conn.execute(text("SELECT id, state FROM comparisons")).all() == [(3, "done")]


def test_reports_made_before_review_keep_their_pairs_out_of_training(database_url):
    """0012 adds the admin's review of reports; a report made before it counts as confirmed, so an
    upgrade changes nothing that trains."""
    from datetime import UTC, datetime

    from sqlalchemy import text

    from core.db.migrate import downgrade, upgrade

    upgrade("0011")
    now = datetime.now(UTC)
    with engine_for(database_url).begin() as conn:
        insert_pair(conn, now, state="retired", vote_count=0)
        insert(conn, "reports", id=5, comparison_id=3, labeler_id=7, side="both", reason="harmful", created_at=now)
    upgrade()
    downgrade("0011")
    upgrade()
    with engine_for(database_url).connect() as conn:
        rows = conn.execute(text("SELECT id, status, decided_by, decided_at IS NOT NULL FROM reports")).all()
    assert [tuple(r) for r in rows] == [(5, "confirmed", "upgrade", True)]


def test_checkpoint_paths_become_relative_to_the_data_dir(database_url, tmp_path):
    """0014: a path under the data dir becomes relative to it; a round's checkpoint restored from a data
    dir elsewhere becomes checkpoints/<its name>; a folder placed by hand outside stays absolute; the
    base keeps no path. Down again, every path is absolute in this data dir."""
    from datetime import UTC, datetime

    from sqlalchemy import text

    from core.db.migrate import downgrade, upgrade

    data = (tmp_path / "data").absolute()
    upgrade("0011")
    rows = {2: (f"{data}/checkpoints/round-0001-aaaaaa", "round-0001-aaaaaa", 1),
            3: ("/srv/old-host/data/checkpoints/round-0002-bbbbbb", "round-0002-bbbbbb", 2),
            4: ("/models/my-lora", "my-lora", None)}  # fmt: skip
    with engine_for(database_url).begin() as conn:
        for checkpoint_id, (path, name, round_id) in rows.items():
            insert(conn, "checkpoints", id=checkpoint_id, name=name, kind="lora", path=path, parent_id=1,
                   round_id=round_id, status="ready", metrics="{}", created_at=datetime.now(UTC))  # fmt: skip

    def paths() -> dict:
        with engine_for(database_url).connect() as conn:
            return dict(conn.execute(text("SELECT id, path FROM checkpoints")).all())

    upgrade()
    assert paths() == {1: None, 2: "checkpoints/round-0001-aaaaaa", 3: "checkpoints/round-0002-bbbbbb",
                       4: "/models/my-lora"}  # fmt: skip
    downgrade("0011")
    assert paths() == {1: None, 2: f"{data}/checkpoints/round-0001-aaaaaa",
                       3: f"{data}/checkpoints/round-0002-bbbbbb", 4: "/models/my-lora"}  # fmt: skip
    upgrade()
    assert paths()[3] == "checkpoints/round-0002-bbbbbb"


def test_an_install_from_before_campaigns_becomes_the_default_campaign(database_url):
    """0021: what an install held becomes the campaign `default`, open to every labeler; its guidelines
    versions belong to it; a new campaign gets the next id; down and up again keeps the guidelines."""
    from datetime import UTC, datetime

    from sqlalchemy import text

    from core.db.migrate import downgrade, upgrade
    from core.services import campaigns, guidelines

    upgrade("0020")
    now = datetime.now(UTC)
    with engine_for(database_url).begin() as conn:
        insert(conn, "guidelines", version=1, question="Which is sharper?", body="Look **closely**.", set_by="root",
               created_at=now)  # fmt: skip
    upgrade()
    assert [(c.name, c.open_to_all) for c in campaigns.list_campaigns()] == [("default", True)]
    assert guidelines.current().question == "Which is sharper?"
    campaigns.create("hands", "", open_to_all=False, by="root")
    with engine_for(database_url).connect() as conn:
        assert conn.execute(text("SELECT id, name FROM campaigns ORDER BY id")).all() == [(1, "default"), (2, "hands")]
    downgrade("0020")
    upgrade()
    assert guidelines.current().version == 1 and guidelines.current().body == "Look **closely**."


def test_an_upgrade_gives_each_evaluation_to_its_lineages_campaign(database_url):
    """0027: an evaluation's pairs (and an arena match's) belong to the campaign whose lineage holds its
    checkpoints; a match still rendering across two lineages fails, saying why."""
    from datetime import UTC, datetime

    from sqlalchemy import text

    from core.db.migrate import upgrade

    upgrade("0026")
    now = datetime.now(UTC)
    with engine_for(database_url).begin() as conn:
        insert(conn, "campaigns", id=2, name="hands", description="", open_to_all=False, created_by="root",
               created_at=now)  # fmt: skip
        for checkpoint, campaign in ((2, 1), (3, 2)):
            insert(conn, "checkpoints", id=checkpoint, name=f"c{checkpoint}", kind="lora", path=f"c{checkpoint}",
                   parent_id=1, status="ready", campaign_id=campaign, metrics="{}", created_at=now)  # fmt: skip
        insert_pair(conn, now, state="ready", vote_count=0)  # comparison 3
        for evaluation, first in ((5, 2), (6, 3)):  # default's checkpoint and hands' against the base
            insert(conn, "evaluations", id=evaluation, checkpoint_id=first, baseline_id=1, kind="match", pairs=1,
                   created_at=now)  # fmt: skip
        conn.execute(text("UPDATE comparisons SET kind = 'match', evaluation_id = 6 WHERE id = 3"))
        insert(conn, "arena_matches", id=8, checkpoint_a_id=2, checkpoint_b_id=3, state="rendering",
               requested_by="root", created_at=now)  # fmt: skip
        insert(conn, "arena_matches", id=9, checkpoint_a_id=3, checkpoint_b_id=1, state="rendering",
               requested_by="root", created_at=now)  # fmt: skip
    upgrade()
    with engine_for(database_url).connect() as conn:
        assert conn.execute(text("SELECT id, campaign_id FROM comparisons")).all() == [(3, 2)]
        rows = conn.execute(text("SELECT id, state, error, finished_at IS NOT NULL FROM arena_matches ORDER BY id"))
        (across, within) = rows.all()
    assert (across[1], "two campaigns' lineages" in across[2], across[3]) == ("failed", True, True)
    assert tuple(within) == (9, "rendering", None, False)


def test_preference_model_versions_become_the_default_campaigns(database_url):
    """0028: an install's versions belong to `default` (the only campaign they learnt from); one version per
    campaign is in flight (the slot is unique per campaign); down again keeps default's versions only."""
    from datetime import UTC, datetime

    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    from core.db.migrate import downgrade, upgrade

    upgrade("0027")
    now = datetime.now(UTC)
    with engine_for(database_url).begin() as conn:
        insert(conn, "campaigns", id=2, name="hands", description="", open_to_all=False, created_by="root",
               created_at=now)  # fmt: skip
        insert(conn, "reward_models", id=1, state="ready", features="latents+text", requested_by="root",
               ceilings="{}", card="{}", created_at=now)  # fmt: skip
        insert(conn, "reward_models", id=2, state="queued", slot=1, features="latents+text", requested_by="root",
               ceilings="{}", card="{}", created_at=now)  # fmt: skip
    upgrade()
    queued = {"state": "queued", "slot": 1, "features": "latents+text", "requested_by": "root", "ceilings": "{}",
              "card": "{}", "created_at": now}  # fmt: skip
    with engine_for(database_url).begin() as conn:
        assert conn.execute(text("SELECT id, campaign_id FROM reward_models ORDER BY id")).all() == [(1, 1), (2, 1)]
        insert(conn, "reward_models", id=3, campaign_id=2, **queued)  # hands' own slot
    with pytest.raises(IntegrityError), engine_for(database_url).begin() as conn:
        insert(conn, "reward_models", id=4, campaign_id=2, **queued)  # a second in flight for hands
    downgrade("0027")
    with engine_for(database_url).connect() as conn:
        assert conn.execute(text("SELECT id FROM reward_models ORDER BY id")).scalars().all() == [1, 2]
