"""`dpoloop ai-label`: an automatic judge labels pool pairs through the REST API, as a labeler
account marked AI (its votes train only when a round's config says `"ai_votes": "include"|"only"`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import typer

from core.services.labelers import AI_PREFIX, WrongKind, fresh_token
from core.settings import get_settings


@dataclass
class JudgeChoice:
    """A judge in the shape the simulated labeler asks for: choose(left, right, prompt)."""

    judge: object
    margin: float

    def choose(self, left, right, prompt: str) -> str:
        from worker.judges.base import prefer

        return prefer(self.judge, prompt, left.convert("RGB"), right.convert("RGB"), self.margin)


def ai_label(
    judge: Annotated[str, typer.Option(help="scenes, clip:DIR or pickscore:DIR (weights on this machine).")],
    votes: Annotated[int, typer.Option(min=1, help="How many votes to cast.")],
    margin: Annotated[float, typer.Option(min=0, help="Score differences up to this are a tie.")] = 0.0,
    url: Annotated[str | None, typer.Option(help="API base URL (default: DPOLOOP_PUBLIC_URL or host:port).")] = None,
    token: Annotated[str | None, typer.Option(help="A labeler token (default: the AI labeler ai-KIND).")] = None,
    name: Annotated[str | None, typer.Option(help="The AI labeler to vote as (default: ai-KIND).")] = None,
) -> None:
    """Vote on pool pairs with an automatic judge, through the same API as people."""
    from worker.judges.base import JudgeUnavailable
    from worker.judges.registry import load_judge
    from worker.scenes.simulate import simulate_labeler

    try:
        chosen = load_judge(judge)
    except JudgeUnavailable as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    settings = get_settings()
    account = name or f"{AI_PREFIX}{chosen.name}"
    try:
        token = token or fresh_token(account, ai=True)
    except WrongKind as exc:  # a person holds the name (made before it was kept for AI labelers)
        typer.echo(f"{exc}; vote as another AI labeler with --name, e.g. --name {account}-judge", err=True)
        raise typer.Exit(2) from exc
    report = simulate_labeler(url or settings.base_url, token, JudgeChoice(chosen, margin), votes,
                              on_vote=lambda n, c: n % 25 == 0 and typer.echo(f"{n} votes"))  # fmt: skip
    typer.echo(f"{report.votes} votes by {chosen.name} in {report.seconds:.1f} s: {dict(report.choices)}")
