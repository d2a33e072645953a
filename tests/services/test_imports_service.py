"""Imports, the database's side (SQLite and Postgres): only paths under the import root are taken,
refused in the same words whether or not something outside exists; a batch that kills the worker
each time fails the import after MAX_ATTEMPTS starts instead of being redelivered forever; a resume
the broker refuses leaves the set failed, saying why."""

import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core.queue import IMPORT_SET, QueueUnavailable, sending_to
from core.services import imports
from core.settings import get_settings
from core.states import ImportState, RoundTrigger


@pytest.fixture(params=["sqlite", "postgres"])
def any_db(request):
    return request.getfixturevalue("sqlite_db" if request.param == "sqlite" else "pg_settings")


def in_root(name: str):
    """Where the default import root is (imports/ in the data dir)."""
    return get_settings().data_dir / "imports" / name


def one_row_file(path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [{"caption": "a red circle", "jpg_0": b"x", "jpg_1": b"y", "label_0": 1.0, "label_1": 0.0}]
    pq.write_table(pa.Table.from_pylist(rows), path)


def test_only_paths_under_the_import_root_are_imported(any_db, tmp_path, outbox):
    root = in_root("").resolve()
    one_row_file(root / "picks.parquet")
    assert imports.start_import(root / "picks.parquet", "absolute").source == str(root / "picks.parquet")
    assert imports.start_import(type(root)("picks.parquet"), "relative").source == str(root / "picks.parquet")
    assert imports.start_import(root / "sub" / ".." / "picks.parquet", "dotted").source == str(root / "picks.parquet")

    outside = tmp_path / "outside"
    one_row_file(outside / "real.parquet")
    os.symlink(outside, root / "link")
    os.symlink(root / "loop", root / "loop")  # resolving it raises RuntimeError on Python 3.11, not OSError
    refusals = {}
    for label, path in (("exists", outside / "real.parquet"), ("absent", outside / "none"),
                        ("escape", root / ".." / ".." / "outside" / "real.parquet"), ("device", "/dev/zero"),
                        ("link", root / "link" / "real.parquet"), ("nul", "a\x00b"),
                        ("loop", root / "loop" / "picks.parquet")):  # fmt: skip
        with pytest.raises(imports.ImportRefused) as refused:
            imports.start_import(type(root)(path), label)
        refusals[label] = str(refused.value).replace(str(path), "PATH")
    assert len(set(refusals.values())) == 1, refusals  # nothing said about what exists outside
    assert "not under the import root" in refusals["exists"]
    with pytest.raises(imports.ImportRefused, match="does not exist"):  # under the root it may say so
        imports.start_import(root / "missing", "missing")
    assert [name for name, _ in outbox.sent] == [IMPORT_SET] * 3
    assert get_settings().imports_dir == root


def test_a_batch_that_kills_the_worker_each_time_fails_the_import(any_db, outbox):
    one_row_file(in_root("picks.parquet"))
    row = imports.start_import(in_root("picks.parquet"), "picks")
    # A worker killed mid-batch (out of memory) has claimed the set and recorded nothing; Celery
    # redelivers the task to the next worker, which claims it again.
    assert imports.claim(row.id).rows_done == 0
    imports.record_batch(row.id, [], 64, {"bad": 64}, [])  # the first batch went through
    for _ in range(imports.MAX_ATTEMPTS - 1):
        assert imports.claim(row.id) is not None  # the start that recorded the batch is the first
    assert imports.claim(row.id) is None  # the next redelivery runs nothing
    failed = imports.get_set("picks")
    assert failed.state == ImportState.failed and failed.attempts == imports.MAX_ATTEMPTS
    assert f"lost {imports.MAX_ATTEMPTS} times" in failed.error and "from row 64" in failed.error
    assert imports.claim(row.id) is None

    imports.resume_import("picks")  # an admin's resume counts afresh
    assert imports.get_set("picks").attempts == 0 and imports.claim(row.id).rows_done == 64


def test_a_resume_the_broker_refuses_fails_the_set(any_db, broker_down):
    one_row_file(in_root("picks.parquet"))
    with sending_to(lambda task, args: None):
        row = imports.start_import(in_root("picks.parquet"), "picks")
    imports.fail(row.id, "the worker stopped")
    with pytest.raises(QueueUnavailable):
        imports.resume_import("picks")
    found = imports.get_set("picks")
    assert found.state == ImportState.failed and "could not queue" in found.error


def test_a_set_is_imported_for_one_campaign_and_only_its_rounds_train_on_it(any_db, outbox):
    from core.db.models import PreferenceSet
    from core.db.session import session_scope
    from core.services import campaigns, rounds

    campaigns.create("hands", "", True, "test")
    root = in_root("").resolve()
    one_row_file(root / "picks.parquet")
    assert imports.start_import(root / "picks.parquet", "for-default").campaign_id == 1
    hands = imports.start_import(root / "picks.parquet", "for-hands", campaign="hands")
    assert hands.campaign_id == campaigns.get("hands").id
    for campaign, refusal in (("nope", campaigns.UnknownCampaign), ("hands-2", campaigns.UnknownCampaign)):
        with pytest.raises(refusal):
            imports.start_import(root / "picks.parquet", f"x-{campaign}", campaign=campaign)
    with session_scope() as session:  # as if the train worker had read them
        for row in session.query(PreferenceSet):
            row.state = ImportState.done
    imports.check_sources(["votes", "import:for-hands"], hands.campaign_id)
    imports.check_sources(["votes", "import:for-default"])
    with pytest.raises(ValueError, match="imported for campaign 'hands', not this round's"):
        imports.check_sources(["votes", "import:for-hands"])
    with pytest.raises(rounds.InvalidRoundConfig, match="imported for campaign 'default'"):
        rounds.start_round(get_settings(), RoundTrigger.admin, {"sources": ["votes", "import:for-default"]},
                           campaign="hands")
    campaigns.archive("hands")
    with pytest.raises(campaigns.CampaignRefused, match="archived"):
        imports.start_import(root / "picks.parquet", "late", campaign="hands")
