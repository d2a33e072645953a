"""`dpoloop export`: preference data out, in the layout the field's trainers read."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from core.services.export import ExportFilter, write_export
from core.settings import get_settings


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
) -> None:
    """Write the votes as Pick-a-Pic v2 parquet (one row per decided comparison, images included),
    plus votes.parquet/votes.csv (one row per vote) and export.json."""
    if since is not None and since.tzinfo is None:
        since = since.astimezone()  # a time without a zone is local time
    flt = ExportFilter(since=since, kind=kind.value, include_ties=include_ties, exclude_disabled=exclude_disabled,
                       latents=latents)  # fmt: skip
    report = write_export(get_settings(), out_dir, flt)
    c = report.counts
    typer.echo(f"{c.pairs} pairs ({c.ties} ties) from {c.comparisons} voted comparisons, {c.votes} votes "
               f"→ {out_dir}: {', '.join(report.files)}")  # fmt: skip
    if c.undecided or c.missing_files:
        typer.echo(f"left out: {c.undecided} without a decision, {c.missing_files} with image files gone")
