"""How a command ends when a service refuses: the reason on stderr and exit code 1, the same in every
command (scripts tell a refusal from success by the code, people read the reason)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer


@contextmanager
def exit_when_refused(*refusals: type[Exception], prefix: str = "") -> Iterator[None]:
    try:
        yield
    except refusals as exc:
        reason = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc  # str(KeyError) quotes it
        typer.echo(f"{prefix}{reason}", err=True)
        raise typer.Exit(1) from exc
