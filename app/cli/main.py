"""`dpoloop ...`: one entry point for the service, the workers and the base model.

Commands that need torch live in worker/ and import it inside the command, so this module (and
the API process) stays light.
"""

from __future__ import annotations

import typer

from worker.basemodel.cli import base_model_cli

cli = typer.Typer(no_args_is_help=True, help="dpoloop: a human-preference loop for text-to-image models.")
cli.add_typer(base_model_cli, name="base-model")


if __name__ == "__main__":
    cli()
