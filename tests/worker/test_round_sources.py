"""A round's sources each have their own budget within max_pairs (SQLite and Postgres): votes and imported
pairs are numbered by different sequences, so sorting them together let a large import take every
slot; the round's counts say what each source had, its budget and what it gave."""

import numpy as np
import pytest

from core.db.models import ImportedPair, PreferenceSet
from core.db.session import session_scope
from core.preferences import PreferencePair, Preferences
from core.services import labeling, rounds
from core.settings import get_settings
from core.states import Choice, ImportState
from tests.helpers.data import make_comparisons, make_labeler, serve
from tests.helpers.rounds import start
from worker.rounds.data import gather, load_pairs, source_budgets


@pytest.fixture(params=["sqlite", "postgres"])
def any_db(request):
    return request.getfixturevalue("loop_db" if request.param == "sqlite" else "pg_settings")


def imported_set(name: str, count: int) -> None:
    """A fully imported set of `count` pairs with their latents on disk (the rows an import writes)."""
    settings = get_settings()
    settings.ensure_dirs()
    with session_scope() as session:
        found = PreferenceSet(name=name, source=f"/srv/{name}.parquet", format="parquet", state=ImportState.done,
                              rows_total=count, rows_done=count, counts={"added": count},
                              requested_by="test")  # fmt: skip
        session.add(found)
        session.flush()
        for i in range(count):
            for side in ("w", "l"):
                np.save(settings.latents_dir / f"{name}-{i}{side}.npy", np.ones((4, 16, 16), np.float32))
            session.add(ImportedPair(set_id=found.id, row_index=i, caption=f"{name} caption {i}",
                                     winner_latents=f"{name}-{i}w.npy", loser_latents=f"{name}-{i}l.npy",
                                     row_hash=f"{name}-{i}"))  # fmt: skip


def test_a_large_import_leaves_the_votes_their_share(any_db):
    voted = make_comparisons(6)
    alice = make_labeler("alice")[0]
    for comparison_id in voted:
        serve(comparison_id, alice)
        labeling.vote(comparison_id, alice, Choice.left, 1500, get_settings())
    imported_set("big", 40)  # ids 1…40: every one "newer" than the votes' comparisons 1…6

    round_id = start({"sources": ["votes", "import:big"], "max_pairs": 12, "held_out_share": 0.25})
    claim = rounds.claim_round(round_id, get_settings())
    data = gather(claim, get_settings())
    prompts = [pair.prompt for pair in data.train + data.held_out]
    assert sum(not p.startswith("big caption") for p in prompts) == 6  # every vote pair, not 0
    assert len(prompts) == 12
    row, _ = rounds.get_round(round_id)
    by_source = row.counts["sources"]
    assert {source: (c["pairs"], c["budget"], c["train"] + c["held_out"]) for source, c in by_source.items()} == {
        "votes": (6, 6, 6), "import:big": (40, 6, 6)}  # fmt: skip
    assert sum(c["held_out"] for c in by_source.values()) == row.counts["held_out_pairs"] >= 1
    assert row.counts["pairs_beyond_max"] == 34
    from typer.testing import CliRunner

    from cli.main import cli

    listed = CliRunner().invoke(cli, ["rounds", "list"]).output  # what an admin reads in a terminal
    assert f"{round_id} running" in listed and "votes=6/6 import:big=6/40" in listed


def mixed(tmp_path, votes: int, imported: int) -> Preferences:
    """Vote pairs with comparison ids 1…votes and imported pairs with ids 1…imported, latents on disk."""
    found = Preferences()
    for source, count in (("votes", votes), ("import:big", imported)):
        for i in range(1, count + 1):
            for side in ("w", "l"):
                np.save(tmp_path / f"{source}-{i}{side}.npy", np.zeros((4, 2, 2), np.float32))
            found.pairs.append(PreferencePair(i, f"{source} {i}", f"{source}-{i}w.npy", f"{source}-{i}l.npy", 1, 0,
                                              source))  # fmt: skip
    return found


def loaded_from(data) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for pair in data.train + data.held_out:
        source, number = pair.prompt.rsplit(" ", 1)
        found.setdefault(source, []).append(int(number))
    return {source: sorted(numbers) for source, numbers in found.items()}


def test_each_source_gives_its_newest_pairs_within_its_budget(tmp_path):
    even = load_pairs(mixed(tmp_path, 10, 100), tmp_path.joinpath, held_out_share=0.0, max_pairs=12)
    assert loaded_from(even) == {"votes": [5, 6, 7, 8, 9, 10], "import:big": list(range(95, 101))}
    # A source with fewer pairs than its share leaves the rest to the others.
    small = load_pairs(mixed(tmp_path, 3, 100), tmp_path.joinpath, held_out_share=0.0, max_pairs=12)
    assert loaded_from(small) == {"votes": [1, 2, 3], "import:big": list(range(92, 101))}
    # A budget named in the config is that source's, however many pairs the others have.
    capped = load_pairs(mixed(tmp_path, 10, 100), tmp_path.joinpath, held_out_share=0.0, max_pairs=12,
                        source_max_pairs={"import:big": 2})  # fmt: skip
    assert loaded_from(capped) == {"votes": list(range(1, 11)), "import:big": [99, 100]}
    assert capped.counts["sources"]["import:big"] == {"pairs": 100, "budget": 2, "train": 2, "held_out": 0}


def test_budgets_split_max_pairs_without_exceeding_it():
    assert source_budgets({"votes": 5000}, 4096, {}) == {"votes": 4096}  # one source: as before
    assert source_budgets({"a": 100, "b": 100, "c": 100}, 10, {}) == {"a": 3, "b": 3, "c": 4}
    assert source_budgets({"a": 1, "b": 100, "c": 100}, 10, {}) == {"a": 1, "b": 4, "c": 5}
    assert source_budgets({"a": 100, "b": 100}, 10, {"a": 8}) == {"a": 8, "b": 2}
    assert source_budgets({"a": 3, "b": 100}, 10, {"a": 8}) == {"a": 3, "b": 7}  # a's unused budget goes on
    assert source_budgets({"a": 0, "b": 0}, 10, {}) == {"a": 0, "b": 0}
