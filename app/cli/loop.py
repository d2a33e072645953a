"""`dpoloop rounds …`, `dpoloop checkpoints …`, `dpoloop simulate-labelers`: the loop from a shell.

These talk to the database directly (and to the broker to queue a round), so they work on the
machine that runs the service without a token; simulate-labelers goes through the REST API.
"""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer

from app.settings import get_settings

rounds_cli = typer.Typer(no_args_is_help=True, help="Start, follow and cancel Diffusion-DPO training rounds.")
checkpoints_cli = typer.Typer(no_args_is_help=True, help="List checkpoints; promote one (or roll back).")


@rounds_cli.command("start")
def rounds_start(
    config: Annotated[str, typer.Option(help="DPO settings over the defaults, JSON: '{\"steps\": 100}'.")] = "{}",
    wait: bool = typer.Option(False, help="Follow the round until it ends; exit 1 unless it succeeded."),
) -> None:
    """Queue a training round now (one at a time)."""
    from pydantic import ValidationError

    from app.db.session import session_scope
    from app.repo.rounds import RoundBusy
    from app.round_queue import QueueUnavailable, queue_round, resolve_config

    try:
        resolved = resolve_config(get_settings(), json.loads(config))
    except (json.JSONDecodeError, ValidationError, TypeError) as exc:
        typer.echo(f"invalid --config: {exc}", err=True)
        raise typer.Exit(2) from exc
    try:
        with session_scope() as session:
            round_id = queue_round(session, "admin", resolved.model_dump(), requested_by="cli").id
    except (RoundBusy, QueueUnavailable) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"round {round_id} queued")
    if wait:
        raise typer.Exit(0 if _follow(round_id) == "succeeded" else 1)


def _follow(round_id: int) -> str:
    from app.db.models import TrainingRound
    from app.db.session import session_scope
    from app.repo.rounds import FINISHED, steps_of

    last_step = 0
    while True:
        with session_scope() as session:
            row = session.get(TrainingRound, round_id)
            for step in steps_of(session, round_id, last_step):
                m = step.metrics
                typer.echo(f"step {step.step:5d}  loss {m['loss']:.4f}  implicit acc {m['implicit_accuracy']:.2f}")
                last_step = step.step
            if row.state in FINISHED:
                typer.echo(f"round {round_id} {row.state.value}" + (f": {row.error}" if row.error else ""))
                if row.checkpoint_id:
                    typer.echo(f"checkpoint {row.checkpoint_id}: {row.metrics.get('gate', {})}")
                return row.state.value
        time.sleep(1.0)


@rounds_cli.command("list")
def rounds_list() -> None:
    from sqlalchemy import select

    from app.db.models import TrainingRound
    from app.db.session import session_scope

    with session_scope() as session:
        for r in session.scalars(select(TrainingRound).order_by(TrainingRound.id.desc()).limit(50)):
            typer.echo(f"{r.id:4d} {r.state.value:9} {r.trigger:8} pairs={r.counts.get('pairs', '-')} "
                       f"checkpoint={r.checkpoint_id or '-'} {r.error or ''}")  # fmt: skip


@rounds_cli.command("cancel")
def rounds_cancel(round_id: int) -> None:
    from app.db.models import RoundState, TrainingRound
    from app.db.session import session_scope
    from app.repo.rounds import request_cancel

    with session_scope() as session:
        row = session.get(TrainingRound, round_id)
        if row is None or row.state not in (RoundState.queued, RoundState.running):
            typer.echo(f"round {round_id} is not queued or running", err=True)
            raise typer.Exit(1)
        request_cancel(session, row)
    typer.echo(f"round {round_id}: cancel requested")


@checkpoints_cli.command("list")
def checkpoints_list() -> None:
    from app.db.session import session_scope
    from app.repo.checkpoints import active_checkpoint_id, list_checkpoints
    from app.repo.evaluations import describe, latest_evaluations

    with session_scope() as session:
        active = active_checkpoint_id(session)
        evaluations = latest_evaluations(session)
        for c in list_checkpoints(session):
            mark = "*" if c.id == active else " "
            verdict = describe(*evaluations[c.id]) if c.id in evaluations else ""
            typer.echo(f"{mark}{c.id:4d} {c.kind:5} {c.status:8} parent={c.parent_id or '-'} round={c.round_id or '-'} "
                       f"{c.name}  {verdict}  {c.status_reason or ''}".rstrip())  # fmt: skip


@checkpoints_cli.command("promote")
def checkpoints_promote(
    checkpoint_id: int, reason: str = typer.Option("cli", help="Recorded with the promotion.")
) -> None:
    """Serve this checkpoint (an older one: a rollback); workers swap within about a second."""
    from app.db.session import session_scope
    from app.repo.checkpoints import PromotionRefused, promote

    try:
        with session_scope() as session:
            promote(session, checkpoint_id, by="cli", reason=reason)
    except (LookupError, PromotionRefused) as exc:
        typer.echo(str(exc.args[0]), err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"checkpoint {checkpoint_id} promoted")


def simulate_labelers(
    policy: Annotated[str, typer.Option(help="larger | smaller | left | prompt")],
    votes: Annotated[int, typer.Option(min=1, help="How many votes to cast.")],
    url: Annotated[str | None, typer.Option(help="API base URL (default: DPOLOOP_PUBLIC_URL or host:port).")] = None,
    token: Annotated[str | None, typer.Option(help="A labeler token (default: create labeler sim-POLICY).")] = None,
) -> None:
    """Label pool comparisons through the REST API with a policy computed by the scene scorer."""
    from app.simulate import simulate_labeler
    from worker.scenes.policies import get_policy

    try:
        chosen = get_policy(policy)
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    settings = get_settings()
    token = token or _simulated_labeler_token(f"sim-{policy}")
    report = simulate_labeler(url or settings.base_url, token, chosen, votes,
                              on_vote=lambda n, c: n % 25 == 0 and typer.echo(f"{n} votes"))  # fmt: skip
    typer.echo(f"{report.votes} votes in {report.seconds:.1f} s ({report.waited_s:.1f} s waiting for the pool): "
               f"{dict(report.choices)}")  # fmt: skip


def _simulated_labeler_token(name: str) -> str:
    """A fresh token for a local simulated labeler (created on first use; rotated each run)."""
    from app.db.session import session_scope
    from app.repo.labelers import by_name, create_labeler, rotate_token

    with session_scope() as session:
        labeler = by_name(session, name)
        if labeler is None:
            _, token = create_labeler(session, name)
        else:
            token = rotate_token(labeler)
    return token
