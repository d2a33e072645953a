"""How long a test's new database takes to reach the newest schema: created empty and taken through
every migration by Alembic (what each test did), against a copy of a template migrated once per session
(tests/helpers/migrated.py, the postgres_template fixture). Alternating runs in one process; medians and
their ratio. Postgres when DPOLOOP_TEST_POSTGRES_URL is set (`bash scripts/services.sh` prints it).

    PYTHONPATH=. .venv/bin/python bench/test_databases.py --repeats 9
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time

from sqlalchemy import make_url

from core.db.migrate import upgrade
from core.settings import get_settings
from tests.conftest import create_database, drop_database
from tests.helpers.migrated import migrated, new_install_secret, upgrade_into


def sqlite(how: str) -> float:
    workdir = tempfile.mkdtemp()
    os.environ.update(DPOLOOP_DATABASE_URL=f"sqlite:///{workdir}/db.sqlite3", DPOLOOP_DATA_DIR=f"{workdir}/data")
    get_settings.cache_clear()
    start = time.perf_counter()
    upgrade() if how == "upgrade" else migrated()
    seconds = time.perf_counter() - start
    shutil.rmtree(workdir, ignore_errors=True)
    return seconds


def postgres(how: str, admin: str, template: str) -> float:
    start = time.perf_counter()
    if how == "upgrade":
        url = create_database(admin)
        upgrade_into(url)
    else:
        url = create_database(admin, template=template)
        new_install_secret(url)
    seconds = time.perf_counter() - start
    drop_database(admin, url)
    return seconds


def report(kind: str, runs: dict[str, list[float]]) -> None:
    up, copy = statistics.median(runs["upgrade"]), statistics.median(runs["copy"])
    print(f"{kind:8} upgrade {up * 1000:5.0f} ms   template copy {copy * 1000:5.0f} ms   {up / copy:5.1f}x faster "
          f"(medians of {len(runs['copy'])})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    sqlite("copy")  # the template is made once, outside the figures
    runs = {"upgrade": [], "copy": []}
    for _ in range(args.repeats):
        for how in runs:
            runs[how].append(sqlite(how))
    report("sqlite", runs)
    admin = os.environ.get("DPOLOOP_TEST_POSTGRES_URL")
    if admin:
        template = create_database(admin)
        upgrade_into(template)
        runs = {"upgrade": [], "copy": []}
        for _ in range(args.repeats):
            for how in runs:
                runs[how].append(postgres(how, admin, make_url(template).database))
        drop_database(admin, template)
        report("postgres", runs)


if __name__ == "__main__":
    main()
