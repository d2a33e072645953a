"""`dpoloop export` and `dpoloop import`: preference data out, in the layout the field's trainers
read, and in from such files, `datasets` folders or folders of image pairs."""

from __future__ import annotations

import time
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from tqdm import tqdm

from cli.refusals import exit_when_refused
from core.queue import QueueUnavailable
from core.services import campaigns, imports
from core.services.campaigns import UnknownCampaign
from core.settings import get_settings
from core.states import ImportState


class Kind(StrEnum):
    train = "train"
    eval = "eval"
    all = "all"


def export(
    out_dir: Annotated[Path, typer.Argument(help="Directory for the parquet shards (made if missing).")],
    since: Annotated[datetime | None, typer.Option(help="Only comparisons voted on at or after this (ISO).")] = None,
    kind: Annotated[Kind, typer.Option(help="train pairs, eval (promotions and arena matches) or all.")] = Kind.train,
    include_ties: Annotated[bool, typer.Option(help="Export ties as 0.5/0.5 rows.")] = False,
    exclude_disabled: Annotated[bool, typer.Option(help="Leave out disabled labelers' votes.")] = False,
    latents: Annotated[bool, typer.Option(help="Add the stored latents (for a dpoloop re-import).")] = False,
    campaign: Annotated[str, typer.Option(help="Whose votes: a campaign's name.")] = "default",
) -> None:
    """Write the votes as Pick-a-Pic v2 parquet (one row per decided comparison, images included),
    plus votes.parquet/votes.csv (one row per vote) and export.json."""
    from core.services.export import ExportFilter, write_export  # pyarrow: only for this command

    if since is not None and since.tzinfo is None:
        since = since.astimezone()  # a time without a zone is local time
    flt = ExportFilter(since=since, kind=kind.value, include_ties=include_ties, exclude_disabled=exclude_disabled,
                       latents=latents, campaign=campaign)  # fmt: skip
    with exit_when_refused(UnknownCampaign):
        report = write_export(get_settings(), out_dir, flt)
    c = report.counts
    typer.echo(f"{c.pairs} pairs ({c.ties} ties) from {c.comparisons} voted comparisons, {c.votes} votes "
               f"→ {out_dir}: {', '.join(report.files)}")  # fmt: skip
    if c.undecided or c.missing_files:
        typer.echo(f"left out: {c.undecided} without a decision, {c.missing_files} with image files gone")


imports_cli = typer.Typer(no_args_is_help=True, help="Imported preference sets.")


IMPORT_PATH_HELP = (
    "Pick-a-Pic parquet (file or folder), a datasets save_to_disk folder, or a folder of NAME_0.png/NAME_1.png "
    "with a .jsonl, in the import root (DPOLOOP_IMPORT_ROOT; a relative PATH is inside it)."
)


def import_pairs(
    path: Annotated[Path, typer.Argument(help=IMPORT_PATH_HELP)],
    name: Annotated[str | None, typer.Option(help="The set's name (default: the file's); see import:NAME.")] = None,
    wait: Annotated[bool, typer.Option(help="Follow the train worker's progress until it ends.")] = True,
    campaign: Annotated[str, typer.Option(help="The campaign whose rounds may train on the set.")] = "default",
) -> None:
    """Import preference pairs: the train worker encodes them to latents; a round of the campaign trains
    on them when its config says "sources": ["votes", "import:NAME"]."""
    refusals = (imports.ImportRefused, QueueUnavailable, campaigns.UnknownCampaign, campaigns.CampaignRefused)
    with exit_when_refused(*refusals, prefix="cannot import: "):
        row = imports.start_import(path, name, campaign=campaign)
    typer.echo(f"import {row.name!r} ({row.format}) queued on the train worker")
    if wait:
        _follow(row.name)


def _follow(name: str) -> None:
    with tqdm(desc=f"import {name}", unit="row", dynamic_ncols=True) as bar:
        while True:
            row = imports.get_set(name)
            bar.total = row.rows_total
            bar.update(row.rows_done - bar.n)
            if row.state in (ImportState.done, ImportState.failed):
                break
            time.sleep(1)
    _report(row)
    if row.state == ImportState.failed:
        raise typer.Exit(1)


def _report(row) -> None:
    c = row.counts or {}
    typer.echo(f"{row.name}: {row.state.value}; {c.get('added', 0)} pairs added, {c.get('duplicates', 0)} "
               f"duplicates, {c.get('ties', 0)} ties, {c.get('unlabeled', 0)} unlabeled, {c.get('bad', 0)} bad "
               f"of {row.rows_total or 0} rows")  # fmt: skip
    for bad in (row.bad_rows or [])[:10]:
        typer.echo(f"  row {bad['row']}: {bad['reason']}")
    if row.error:
        typer.echo(f"error: {row.error}", err=True)


@imports_cli.command("list")
def list_imports() -> None:
    """Every imported set with its progress and counts."""
    for row in imports.list_sets():
        _report(row)


@imports_cli.command("resume")
def resume(name: str, wait: Annotated[bool, typer.Option(help="Follow its progress.")] = True) -> None:
    """Queue an interrupted or failed import again; it goes on where it stopped."""
    with exit_when_refused(LookupError, imports.ImportRefused, QueueUnavailable):
        imports.resume_import(name)
    if wait:
        _follow(name)
