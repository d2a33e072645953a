"""`dpoloop simulate-labelers` and `dpoloop ai-label`: labelers that are programs, voting on pool pairs
through the REST API exactly as people do. A simulated labeler follows a scene policy (the embedded
model's benches); an AI labeler is an automatic judge on an account marked AI (its votes train only when a
round's config says `"ai_votes": "include"|"only"`). torch and scipy load inside the commands only."""

from __future__ import annotations

from typing import Annotated

import typer

from core.services.labelers import AI_PREFIX, WrongKind, fresh_token
from core.settings import get_settings

Votes = Annotated[int, typer.Option(min=1, help="How many votes to cast.")]
Url = Annotated[str | None, typer.Option(help="API base URL (default: DPOLOOP_PUBLIC_URL or host:port).")]


def _label(token: str, chooser, votes: int, url: str | None):
    """Cast `votes` votes as the labeler holding `token`, each chosen by `chooser.choose(left, right, prompt)`."""
    from worker.scenes.simulate import simulate_labeler

    return simulate_labeler(url or get_settings().base_url, token, chooser, votes,
                            on_vote=lambda n, c: n % 25 == 0 and typer.echo(f"{n} votes"))  # fmt: skip


def _refuse(message: str) -> typer.Exit:
    """Exit 2 with the reason on stderr: the command line asked for something that cannot be."""
    typer.echo(message, err=True)
    return typer.Exit(2)


def simulate_labelers(
    policy: Annotated[str, typer.Option(help="larger | smaller | left | prompt")],
    votes: Votes,
    url: Url = None,
    token: Annotated[str | None, typer.Option(help="A labeler token (default: create labeler sim-POLICY).")] = None,
) -> None:
    """Label pool comparisons through the REST API with a policy computed by the scene scorer."""
    from worker.scenes.policies import get_policy

    try:
        chosen = get_policy(policy)
    except ValueError as exc:
        raise _refuse(str(exc)) from exc
    report = _label(token or fresh_token(f"sim-{policy}"), chosen, votes, url)
    typer.echo(f"{report.votes} votes in {report.seconds:.1f} s ({report.waited_s:.1f} s waiting for the pool): "
               f"{dict(report.choices)}")  # fmt: skip


def ai_label(
    judge: Annotated[str, typer.Option(help="scenes, clip:DIR or pickscore:DIR (weights on this machine).")],
    votes: Votes,
    margin: Annotated[float, typer.Option(min=0, help="Score differences up to this are a tie.")] = 0.0,
    url: Url = None,
    token: Annotated[str | None, typer.Option(help="A labeler token (default: the AI labeler ai-KIND).")] = None,
    name: Annotated[str | None, typer.Option(help="The AI labeler to vote as (default: ai-KIND).")] = None,
) -> None:
    """Vote on pool pairs with an automatic judge, through the same API as people."""
    from worker.judges.base import JudgeChoice, JudgeUnavailable
    from worker.judges.registry import load_judge

    try:
        chosen = load_judge(judge)
    except JudgeUnavailable as exc:
        raise _refuse(str(exc)) from exc
    account = name or f"{AI_PREFIX}{chosen.name}"
    try:
        token = token or fresh_token(account, ai=True)
    except WrongKind as exc:  # a person holds the name (made before it was kept for AI labelers)
        raise _refuse(f"{exc}; vote as another AI labeler with --name, e.g. --name {account}-judge") from exc
    report = _label(token, JudgeChoice(chosen, margin), votes, url)
    typer.echo(f"{report.votes} votes by {chosen.name} in {report.seconds:.1f} s: {dict(report.choices)}")
