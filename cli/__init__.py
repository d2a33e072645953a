"""The `dpoloop` command line (Typer)."""
