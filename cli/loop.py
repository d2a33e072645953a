"""`dpoloop rounds …` and `dpoloop checkpoints …`: the loop from a shell.

They call the same services as the API, on the machine that runs the service (no token needed).
"""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer

from cli.refusals import exit_when_refused
from core.queue import QueueUnavailable
from core.repo.evaluations import describe
from core.services import checkpoints, rounds
from core.services.campaigns import CampaignRefused
from core.settings import get_settings
from core.states import ROUND_FINISHED, RoundState, RoundTrigger

rounds_cli = typer.Typer(no_args_is_help=True, help="Start, follow and cancel Diffusion-DPO training rounds.")
checkpoints_cli = typer.Typer(no_args_is_help=True, help="List checkpoints; promote, roll back, reject a candidate.")


@rounds_cli.command("start")
def rounds_start(
    config: Annotated[str, typer.Option(help="DPO settings over the defaults, JSON: '{\"steps\": 100}'.")] = "{}",
    wait: bool = typer.Option(False, help="Follow the round until it ends; exit 1 unless it succeeded."),
    campaign: str = typer.Option("default", help="Whose votes it trains on, from what serves that campaign."),
) -> None:
    """Queue a training round now (one at a time)."""
    try:
        overrides = json.loads(config)
        row = rounds.start_round(get_settings(), RoundTrigger.admin, overrides, requested_by="cli", campaign=campaign)
    except (json.JSONDecodeError, rounds.InvalidRoundConfig) as exc:
        typer.echo(f"invalid --config: {exc}", err=True)
        raise typer.Exit(2) from exc
    except (rounds.RoundBusy, QueueUnavailable, LookupError, CampaignRefused) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"round {row.id} queued")
    if wait:
        raise typer.Exit(0 if follow(row.id) == RoundState.succeeded else 1)


def follow(round_id: int) -> RoundState:
    """Print the round's steps as they come, until it ends; returns its final state."""
    last_step = 0
    while True:
        row, steps = rounds.get_round(round_id, last_step)
        for step in steps:
            m = step.metrics
            typer.echo(f"step {step.step:5d}  loss {m['loss']:.4f}  implicit acc {m['implicit_accuracy']:.2f}")
            last_step = step.step
        if row.state in ROUND_FINISHED:
            typer.echo(f"round {round_id} {row.state.value}" + (f": {row.error}" if row.error else ""))
            if row.checkpoint_id:
                typer.echo(f"checkpoint {row.checkpoint_id}: {row.metrics.get('gate', {})}")
            return row.state
        time.sleep(1.0)


@rounds_cli.command("list")
def rounds_list() -> None:
    for r in rounds.list_rounds(50):
        # Per source: the pairs it gave (train + held out) of those it had.
        given = " ".join(f"{source}={c['train'] + c['held_out']}/{c['pairs']}"
                         for source, c in r.counts.get("sources", {}).items())  # fmt: skip
        typer.echo(f"{r.id:4d} {r.state.value:9} {r.trigger.value:8} pairs={r.counts.get('pairs', '-')} "
                   f"{given + ' ' if given else ''}checkpoint={r.checkpoint_id or '-'} {r.error or ''}")  # fmt: skip


@rounds_cli.command("cancel")
def rounds_cancel(round_id: int) -> None:
    try:
        rounds.cancel_round(round_id)
    except (LookupError, rounds.RoundEnded) as exc:
        typer.echo(f"round {round_id} is not queued or running", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"round {round_id}: cancel requested")


@checkpoints_cli.command("list")
def checkpoints_list() -> None:
    registry = checkpoints.registry(with_evaluations=True, settings=get_settings())
    for c in registry.checkpoints:
        mark = "*" if c.id == registry.active_id else " "
        verdict = describe(*registry.evaluations[c.id]) if c.id in registry.evaluations else ""
        candidacy = registry.candidacies.get(c.id)
        judged = (f"candidate {candidacy.state.value} ({candidacy.wins}-{candidacy.losses}-{candidacy.ties} vs "
                  f"{candidacy.serving_id})  " if candidacy else "")  # fmt: skip
        typer.echo(f"{mark}{c.id:4d} {c.kind.value:5} {c.status.value:8} parent={c.parent_id or '-'} "
                   f"round={c.round_id or '-'} {c.name}  {judged}{verdict}  "
                   f"{c.status_reason or ''}".rstrip())  # fmt: skip


@checkpoints_cli.command("clear-broken")
def checkpoints_clear_broken(checkpoint_id: int) -> None:
    """Take the broken mark off a checkpoint whose load failure was passing; promote it to serve it."""
    with exit_when_refused(LookupError, checkpoints.PromotionRefused):
        checkpoints.clear_broken(checkpoint_id, by="cli")
    typer.echo(f"checkpoint {checkpoint_id}: broken mark cleared; promote it to serve it")


@checkpoints_cli.command("promote")
def checkpoints_promote(
    checkpoint_id: int, reason: str = typer.Option("cli", help="Recorded with the promotion."),
    campaign: str | None = typer.Option(None, help="The campaign it serves (default: its lineage's; the base: any)."),
) -> None:
    """Serve this checkpoint (an older one: a rollback); workers swap within about a second."""
    with exit_when_refused(LookupError, checkpoints.PromotionRefused, CampaignRefused):
        checkpoints.promote(checkpoint_id, by="cli", reason=reason, campaign=campaign)
    typer.echo(f"checkpoint {checkpoint_id} promoted" + (f" in {campaign}" if campaign else ""))


@checkpoints_cli.command("reject")
def checkpoints_reject(
    checkpoint_id: int, reason: str = typer.Option("cli", help="Recorded with the rejection.")
) -> None:
    """Reject the candidate the labelers are judging, before their verdict: it never serves unless promoted."""
    with exit_when_refused(LookupError, checkpoints.NotJudged):
        checkpoints.reject(checkpoint_id, by="cli", reason=reason)
    typer.echo(f"checkpoint {checkpoint_id} rejected")
