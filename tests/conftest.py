"""Fixtures for the real services: PostgreSQL, Redis, a Celery worker, the API, Chromium.

`bash scripts/test.sh` starts the services and exports their URLs. Run bare, tests that need a
missing service are skipped with the reason; under the script (DPOLOOP_REQUIRE_SERVICES=1) they fail.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

REPO_ROOT = Path(__file__).resolve().parent.parent
EMBEDDED_MODEL = REPO_ROOT / "models" / "scenes-base"


def need_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        message = f"{name} is not set: run the tests with `bash scripts/test.sh`"
        if os.environ.get("DPOLOOP_REQUIRE_SERVICES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return value


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    return need_env("DPOLOOP_TEST_POSTGRES_URL")


@pytest.fixture(scope="session")
def redis_base_url() -> Iterator[str]:
    """The test Redis. Under pytest-xdist each worker starts a private one: tests take its databases by
    number and flush them, which two workers sharing one server would do to each other."""
    url = need_env("DPOLOOP_TEST_REDIS_URL")
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        yield url
        return
    from tests.helpers.stack import free_port, start_redis

    port = free_port()
    server = start_redis(port)
    yield f"redis://127.0.0.1:{port}"
    server.terminate()
    server.wait(10)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    return need_env("DPOLOOP_TEST_CHROMIUM")


@pytest.fixture(scope="session")
def s3_endpoint() -> str:
    return need_env("DPOLOOP_TEST_S3_URL")


def new_bucket(endpoint: str) -> str:
    """An empty bucket of its own on the test S3 server (scripts/services.sh starts one)."""
    import boto3

    name = f"dpoloop-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="test", aws_secret_access_key="test",
                 region_name="us-east-1").create_bucket(Bucket=name)  # fmt: skip
    return name


S3_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture
def bucket(s3_endpoint, monkeypatch) -> str:
    """A new bucket, with this process's AWS settings pointing at the test S3 server."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    for key, value in S3_CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    return new_bucket(s3_endpoint)


def create_database(admin_url: str, template: str | None = None) -> str:
    """A new Postgres database, empty or a copy of `template`; returns its URL."""
    name = f"dpoloop_test_{uuid.uuid4().hex[:10]}"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    for attempt in range(5):  # a template must have no session on it: autovacuum may be there for a moment
        try:
            with engine.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
            break
        except Exception:
            if attempt == 4 or template is None:
                raise
            time.sleep(0.2)
    engine.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_database(admin_url: str, url: str) -> None:
    from core.db.session import engine_for

    engine_for(url).dispose()
    name = make_url(url).database
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    for attempt in range(5):  # a server process (autovacuum) may still be on it for a moment
        try:
            with engine.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            break
        except Exception:
            if attempt == 4:
                raise
            time.sleep(0.5)
    engine.dispose()


@pytest.fixture
def postgres_url(postgres_admin_url) -> Iterator[str]:
    """A fresh, empty Postgres database for one test."""
    url = create_database(postgres_admin_url)
    yield url
    drop_database(postgres_admin_url, url)


@pytest.fixture(scope="session")
def postgres_template(postgres_admin_url) -> Iterator[str]:
    """A database migrated to head once per session: migrated_postgres_url's are copies of it."""
    from tests.helpers.migrated import upgrade_into

    url = create_database(postgres_admin_url)
    upgrade_into(url)
    yield make_url(url).database
    drop_database(postgres_admin_url, url)


@pytest.fixture
def migrated_postgres_url(postgres_admin_url, postgres_template) -> Iterator[str]:
    """A fresh Postgres database at the newest schema (another install: a secret of its own) for one test."""
    from tests.helpers.migrated import new_install_secret

    url = create_database(postgres_admin_url, template=postgres_template)
    new_install_secret(url)
    yield url
    drop_database(postgres_admin_url, url)


_redis_db = iter(range(1, 16))


@pytest.fixture
def redis_url(redis_base_url) -> str:
    """A Redis database number of its own, emptied first."""
    import redis

    url = f"{redis_base_url}/{next(_redis_db, 15)}"
    redis.Redis.from_url(url).flushdb()
    return url


def apply_settings(monkeypatch, **values) -> None:
    """Set DPOLOOP_* variables for this test and make every cached settings user see them."""
    from core.queue import celery_app, configure
    from core.settings import get_settings

    for key, value in values.items():
        monkeypatch.setenv(f"DPOLOOP_{key.upper()}", str(value))
    get_settings.cache_clear()
    configure(celery_app, get_settings())


@pytest.fixture
def pg_settings(monkeypatch, tmp_path, migrated_postgres_url, redis_url):
    """This process configured for a migrated Postgres, Redis as broker and a private data dir."""
    url = migrated_postgres_url
    apply_settings(monkeypatch, database_url=url, broker_url=redis_url, data_dir=tmp_path / "data")
    yield {"database_url": url, "broker_url": redis_url, "data_dir": tmp_path / "data"}
    from core.settings import get_settings

    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.fixture
def embedded_model() -> Path:
    if not (EMBEDDED_MODEL / "model_index.json").exists():
        pytest.fail(f"the shipped model is missing at {EMBEDDED_MODEL}")
    return EMBEDDED_MODEL
