"""`dpoloop reward …`: each campaign's preference model from a shell (the same services as the API). Torch is
imported only when a version trains here, so `dpoloop` itself starts light."""

from __future__ import annotations

import typer

from cli.refusals import exit_when_refused
from core.queue import QueueUnavailable
from core.services import campaigns, reward
from core.settings import get_settings

reward_cli = typer.Typer(no_args_is_help=True, help="The preference model learnt from a campaign's votes.")
CAMPAIGN = typer.Option(campaigns.DEFAULT, "--campaign", help="Whose labelers it learns (default: default).")


def describe(row) -> str:
    accuracy = "–" if row.held_out_accuracy is None else f"{row.held_out_accuracy:.3f}"
    agree = (row.ceilings or {}).get("labelers_agree", {}).get("rate")
    judge = (row.ceilings or {}).get("judge", {}).get("accuracy")
    shown = ["–" if value is None else f"{value:.3f}" for value in (agree, judge)]
    ceilings = f"labelers agree {shown[0]}, judge {shown[1]}"
    return (f"v{row.id:04d} {row.state.value:8s} votes {row.votes or 0:6d}  pairs {row.train_pairs or 0}+"
            f"{row.held_out_pairs or 0} held out  held-out accuracy {accuracy}  ({ceilings})"
            + (f"  error: {row.error}" if row.error else ""))  # fmt: skip


@reward_cli.command("train")
def train(
    queue: bool = typer.Option(False, "--queue", help="Leave it to the train worker instead of training here."),
    campaign: str = CAMPAIGN,
) -> None:
    """Train a new version on the campaign's people's votes so far (here, unless --queue); exit 1 if it failed."""
    settings = get_settings()
    with exit_when_refused(reward.RewardBusy, QueueUnavailable, campaigns.UnknownCampaign, campaigns.CampaignRefused):
        row = reward.request_training(settings, by="cli", queue=queue, campaign=campaign)
    if queue:
        typer.echo(f"preference model v{row.id:04d} queued")
        return
    from worker.reward.run import train_version  # torch only when it trains here

    state = train_version(row.id, settings)
    done = next(v for v in reward.versions(row.campaign_id) if v.id == row.id)
    typer.echo(describe(done))
    raise typer.Exit(0 if state == "ready" else 1)


@reward_cli.command("show")
def show(campaign: str = CAMPAIGN) -> None:
    """The campaign's version in use, then every version of its model, newest first."""
    with exit_when_refused(campaigns.UnknownCampaign):
        current, versions = reward.overview(campaign)
    typer.echo(f"in use: {describe(current) if current else 'none yet'}")
    for row in versions:
        typer.echo(describe(row))
