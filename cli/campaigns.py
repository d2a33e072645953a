"""`dpoloop campaigns ...`: several loops on one install — create, list and archive campaigns, and assign
labelers to them (the same rules as the console and /api/v1/admin/campaigns)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from cli.refusals import exit_when_refused
from core.schemas.generation import BlendIn
from core.services import blends, campaigns, rounds
from core.settings import get_settings

campaigns_cli = typer.Typer(no_args_is_help=True, help="Campaigns: several loops on one install.")
Name = Annotated[str, typer.Argument(help="The campaign's name (lowercase letters, digits and '-').")]
BY = "cli"  # who the records say did it: the machine's operator


@campaigns_cli.command("list")
def list_campaigns(archived: bool = typer.Option(False, "--archived", help="Include archived ones.")) -> None:
    """The campaigns: name, who takes part, and what they are for."""
    for c in campaigns.list_campaigns(archived):
        people = "open to all" if c.open_to_all else f"{c.labelers} labeler{'' if c.labelers == 1 else 's'}"
        state = f"  archived {c.archived_at:%Y-%m-%d}" if c.archived_at else ""
        typer.echo(f"{c.name:24} {people:14} {c.description}{state}")


@campaigns_cli.command("create")
def create(
    name: Name,
    description: Annotated[str, typer.Option(help="What it asks and why.")] = "",
    open_to_all: Annotated[bool, typer.Option("--open", help="Every labeler takes part, unassigned.")] = False,
) -> None:
    """A new campaign; assign labelers with `dpoloop campaigns assign` unless it is --open."""
    with exit_when_refused(campaigns.CampaignExists, campaigns.CampaignRefused):
        made = campaigns.create(name, description, open_to_all, BY)
    typer.echo(f"campaign {made.name} created ({'open to all' if made.open_to_all else 'no labelers yet'})")


@campaigns_cli.command("edit")
def edit(
    name: Name,
    description: Annotated[str | None, typer.Option(help="What it asks and why.")] = None,
    open_to_all: Annotated[bool | None, typer.Option("--open/--closed",
                                                     help="Every labeler takes part, or only those assigned.")] = None,
    round_defaults: Annotated[str | None, typer.Option(
        help='DPO settings its rounds start from, as JSON (e.g. \'{"beta": 1000}\'; \'{}\' clears them).')] = None,
) -> None:
    """Change a campaign's description, who takes part, or its round defaults."""
    with exit_when_refused(campaigns.UnknownCampaign, campaigns.CampaignRefused, rounds.InvalidRoundConfig):
        if round_defaults is not None:
            try:
                parsed = json.loads(round_defaults)
            except json.JSONDecodeError as exc:
                raise rounds.InvalidRoundConfig(f"--round-defaults is not JSON: {exc}") from exc
            if not isinstance(parsed, dict):
                raise rounds.InvalidRoundConfig("--round-defaults is a JSON object of DPO settings")
            saved = rounds.set_round_defaults(get_settings(), name, parsed)
            typer.echo(f"campaign {name}: rounds start from {json.dumps(saved) if saved else 'the install defaults'}")
        changed = campaigns.update(name, description, open_to_all)
    typer.echo(f"campaign {changed.name}: {'open to all' if changed.open_to_all else 'assigned labelers only'}")


@campaigns_cli.command("archive")
def archive(name: Name) -> None:
    """Its labelers get no more pairs from it; its data stays."""
    with exit_when_refused(campaigns.UnknownCampaign, campaigns.CampaignRefused):
        campaigns.archive(name)
    typer.echo(f"campaign {name} archived")


@campaigns_cli.command("assign")
def assign(
    name: Name,
    labeler_ids: Annotated[list[int], typer.Argument(help="Labeler ids.")],
    share: Annotated[float, typer.Option(help="Share of their pairs from this campaign, in (0, 1].")] = 1.0,
) -> None:
    """Put labelers in a campaign (or change their share)."""
    with exit_when_refused(campaigns.UnknownCampaign, campaigns.UnknownLabeler, campaigns.CampaignRefused):
        for labeler_id in labeler_ids:
            member = campaigns.assign(name, labeler_id, share, BY)
            typer.echo(f"labeler {member.labeler_id} {member.name} in {name} with share {member.share:g}")


@campaigns_cli.command("unassign")
def unassign(name: Name, labeler_ids: Annotated[list[int], typer.Argument(help="Labeler ids.")]) -> None:
    """Take labelers out of a campaign; the votes they cast in it stay."""
    with exit_when_refused(campaigns.UnknownCampaign, campaigns.UnknownLabeler):
        for labeler_id in labeler_ids:
            campaigns.unassign(name, labeler_id)
            typer.echo(f"labeler {labeler_id} out of {name}")


@campaigns_cli.command("labelers")
def members(name: Name) -> None:
    """The labelers assigned to a campaign and their shares."""
    with exit_when_refused(campaigns.UnknownCampaign):
        found = campaigns.members(name)
    for m in found:
        typer.echo(f"{m.labeler_id:5d} {m.name:20} share {m.share:g}  added by {m.added_by} {m.added_at:%Y-%m-%d}")


@campaigns_cli.command("blend")
def blend(
    weights: Annotated[list[str] | None, typer.Argument(help="NAME=WEIGHT for each campaign in the new blend.")] = None,
) -> None:
    """The install's default blend (what a generation naming no campaign gets); with NAME=WEIGHT pairs,
    set it (campaigns not named leave it)."""
    if weights:
        try:
            pairs = (w.partition("=") for w in weights)
            adapters = BlendIn(adapters={name: float(weight) for name, _, weight in pairs})
        except ValueError as exc:  # pydantic's ValidationError is one: a weight out of range, a malformed name
            typer.echo(f"not a blend: {exc}", err=True)
            raise typer.Exit(1) from exc
        with exit_when_refused(blends.UnusableBlend):
            blends.set_default(adapters.adapters)
    for name, weight in blends.read_default().items():
        typer.echo(f"{name:24} {weight:g}")
