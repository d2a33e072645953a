"""`dpoloop ...`: one entry point for the service, the workers and the base model.

Every command lives in this package, above app/ and worker/. Those that need torch (base-model,
simulate-labelers, ai-label, reward) import it inside the command, so `dpoloop` starts light.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from cli import services
from cli.basemodel import base_model_cli
from cli.campaigns import campaigns_cli
from cli.data import export, import_pairs, imports_cli
from cli.loop import checkpoints_cli, rounds_cli
from cli.refusals import exit_when_refused
from cli.reward import reward_cli
from cli.robots import ai_label, simulate_labelers
from core.db.migrate import upgrade
from core.family import UnsupportedModel, model_family
from core.paths import REPO_ROOT
from core.queue import ALL_QUEUES, GENERATE_WORKER_QUEUES, TRAIN_QUEUE
from core.repo.prompts import read_prompt_file
from core.services import labelers, lineage, prompts, quality
from core.services.backup import BackupFailed, write_backup
from core.services.prompt_filter import ClassifierUnavailable
from core.settings import Settings, get_settings
from core.states import PromptSource, Role
from core.storage import StoreUnavailable, storage

cli = typer.Typer(no_args_is_help=True, help="dpoloop: a human-preference loop for text-to-image models.")
cli.add_typer(base_model_cli, name="base-model")
labelers_cli = typer.Typer(no_args_is_help=True, help="Manage labelers and their tokens.")
prompts_cli = typer.Typer(no_args_is_help=True, help="Manage the prompt set the pool draws from.")
cli.add_typer(labelers_cli, name="labelers")
cli.add_typer(prompts_cli, name="prompts")
cli.add_typer(rounds_cli, name="rounds")
cli.add_typer(checkpoints_cli, name="checkpoints")
cli.add_typer(reward_cli, name="reward")
cli.add_typer(campaigns_cli, name="campaigns")
cli.command("simulate-labelers")(simulate_labelers)
cli.command("ai-label")(ai_label)
cli.command("export")(export)
cli.command("import")(import_pairs)
cli.add_typer(imports_cli, name="imports")

Host = Annotated[str | None, typer.Option(help="Bind address (default: DPOLOOP_HOST).")]
Port = Annotated[int | None, typer.Option(help="Port (default: DPOLOOP_PORT).")]


def _settings_with(host: str | None = None, port: int | None = None) -> Settings:
    """Settings, with CLI overrides exported so that child processes see the same values."""
    if host:
        os.environ["DPOLOOP_HOST"] = host
    if port:
        os.environ["DPOLOOP_PORT"] = str(port)
    get_settings.cache_clear()
    return get_settings()


@cli.command()
def migrate() -> None:
    """Bring the database schema to the newest version, and create the object store's bucket if missing."""
    upgrade()
    typer.echo(f"database at head: {get_settings().sqlalchemy_url}")
    store = storage(get_settings())
    if not store.local:
        with exit_when_refused(StoreUnavailable, prefix="dpoloop: "):
            created = store.ensure_bucket()
        typer.echo(f"object store {'bucket created' if created else 'ready'}: {store.url}")


def _check_model(settings: Settings) -> None:
    """Refuse at start a base model no worker could load (another pipeline class, no model_index.json)."""
    try:
        model_family(settings.base_model)
    except UnsupportedModel as exc:
        typer.echo(f"dpoloop: DPOLOOP_BASE_MODEL: {exc}", err=True)
        raise typer.Exit(2) from exc


def _prepare(settings: Settings) -> list[str]:
    """Migrate, seed the shipped prompts, and on first start create an admin and a labeler."""
    _check_model(settings)
    settings.ensure_dirs()
    upgrade()
    prompts.seed_shipped_prompts()
    return labelers.first_logins(settings)


@cli.command()
def up(host: Host = None, port: Port = None) -> None:
    """Migrate, then run API + generate worker + train worker + beat (Ctrl-C stops all)."""
    settings = _settings_with(host, port)
    logins = _prepare(settings)
    typer.echo(f"dpoloop: data in {settings.data_dir}, database {settings.sqlalchemy_url}")
    typer.echo(f"dpoloop: labeling UI at {settings.base_url}/  (API docs at {settings.base_url}/docs)")
    for line in logins:
        typer.echo(f"dpoloop: login {line}")
    if not logins:
        typer.echo("dpoloop: create a login with `dpoloop labelers create NAME [--admin]`")
    sys.stdout.flush()
    code = services.run_all(
        {
            "api": services.api_command(settings),
            # Two workers: a round (minutes) must not stall the pool and the REST generations.
            "worker": services.worker_command(settings, GENERATE_WORKER_QUEUES, "generate@%h"),
            "trainer": services.worker_command(settings, TRAIN_QUEUE, "train@%h"),  # metrics on the port + 1
            "beat": services.beat_command(settings),
        },
        cwd=REPO_ROOT,
    )
    raise typer.Exit(code)


@cli.command()
def api(host: Host = None, port: Port = None, workers: int = typer.Option(1, help="uvicorn worker processes.")) -> None:
    """Run the API server only."""
    settings = _settings_with(host, port)
    settings.ensure_dirs()
    if workers > 1:
        if not settings.celery_broker_url.startswith(("redis://", "rediss://")):
            # Rate limits are counted in Redis when there is one, else in each process's memory: N processes
            # would each let a labeler through N times. SQLite and the file broker are one machine's anyway.
            typer.echo("dpoloop: several API processes need Redis (DPOLOOP_BROKER_URL=redis://…): rate limits "
                       "are counted there so every process counts together", err=True)  # fmt: skip
            raise typer.Exit(2)
        services.share_metrics(settings)  # each process's request timings summed at /metrics
    os.execv(sys.executable, services.api_command(settings, workers))


@cli.command()
def worker(
    queues: str = typer.Option(ALL_QUEUES, help="Queues to consume, comma-separated (a GPU worker: one role)."),
    name: str = typer.Option("dpoloop@%h", help="Celery node name."),
    metrics_port: int = typer.Option(None, help="Serve Prometheus metrics here (DPOLOOP_WORKER_METRICS_PORT)."),
) -> None:
    """Run a Celery worker (one per GPU)."""
    if metrics_port is not None:
        os.environ["DPOLOOP_WORKER_METRICS_PORT"] = str(metrics_port)
        get_settings.cache_clear()
    settings = get_settings()
    _check_model(settings)
    settings.ensure_dirs()
    os.execv(sys.executable, services.worker_command(settings, queues, name))


@cli.command()
def beat() -> None:
    """Run the Celery beat scheduler (exactly one per deployment)."""
    settings = get_settings()
    settings.ensure_dirs()
    os.execv(sys.executable, services.beat_command(settings))


@labelers_cli.command("create")
def labelers_create(name: str, admin: bool = typer.Option(False, help="Give the labeler admin rights.")) -> None:
    """Create a labeler; prints its token and login link (shown once)."""
    with exit_when_refused(labelers.NameTaken, labelers.NameReserved):
        labeler, token = labelers.create_labeler(name, admin=admin)
    typer.echo(f"labeler {labeler.id} {name} ({labeler.role.value})")
    typer.echo(f"token: {token}")
    typer.echo(f"login: {labelers.login_url(get_settings(), token, admin)}")


@labelers_cli.command("quality")
def labelers_quality(
    campaign: Annotated[str | None, typer.Option(help="A campaign's labelers, on its pairs (default: all).")] = None,
) -> None:
    """Per labeler: gold accuracy, side bias, agreement, and whether their votes train."""
    with exit_when_refused(LookupError):
        report = quality.quality(get_settings(), campaign)
    pct = lambda x: "-" if x is None else f"{x:.0%}"  # noqa: E731
    whose = "all labelers" if campaign is None else f"campaign {campaign}"
    typer.echo(f"Krippendorff's alpha, {whose}: {'-' if report.alpha is None else f'{report.alpha:.3f}'}")
    for r in report.labelers:
        standing = "good" if r.good_standing else "EXCLUDED: " + "; ".join(r.reasons)
        typer.echo(f"{r.labeler_id:4d} {r.name:16} votes {r.votes:5d}  gold {pct(r.gold_accuracy):>4} of "
                   f"{r.gold_votes:3d}  left {pct(r.side_bias):>4}  agree {pct(r.agreement):>4}  "
                   f"fast {pct(r.fast_share):>4}  {standing}")  # fmt: skip


@labelers_cli.command("standing")
def labelers_standing(labeler_id: int, standing: Annotated[str, typer.Argument(help="good | excluded | auto")]) -> None:
    """Override the quality rules for a labeler (auto: let them decide), then show what it touches."""
    if standing not in ("good", "excluded", "auto"):
        typer.echo("standing is good, excluded or auto", err=True)
        raise typer.Exit(2)
    with exit_when_refused(LookupError):
        quality.set_override(labeler_id, None if standing == "auto" else standing)
    labelers_lineage(labeler_id)


@labelers_cli.command("lineage")
def labelers_lineage(labeler_id: int) -> None:
    """The checkpoints built on a labeler's votes, and where a rebuild would start."""
    with exit_when_refused(LookupError):
        found = lineage.lineage(labeler_id)
    trained = ", ".join(f"#{c} ({n} votes)" for c, n in found.trained_on.items()) or "none"
    typer.echo(f"trained on their votes: {trained}; built on them: {found.built_on or 'none'}")
    for rebuild in found.rebuilds:
        campaign = "" if rebuild.campaign == "default" else f" --campaign {rebuild.campaign}"
        start = f"{{\"start_from\": {rebuild.rebuild_from}}}"
        typer.echo(f"what serves {rebuild.campaign} (#{rebuild.serving_id}) is built on them: rebuild with "
                   f"`dpoloop rounds start{campaign} --config '{start}'`")  # fmt: skip


@labelers_cli.command("rotate")
def labelers_rotate(labeler_id: int) -> None:
    """A new token for a labeler (a lost or leaked one); the old token stops working at once."""
    with exit_when_refused(LookupError):
        labeler, token = labelers.rotate_token(labeler_id)
    typer.echo(f"labeler {labeler.id} {labeler.name}: new token {token}")
    typer.echo(f"login: {labelers.login_url(get_settings(), token, labeler.role == Role.admin)}")


@prompts_cli.command("add")
def prompts_add(
    texts: Annotated[list[str] | None, typer.Argument(help="Prompts to add.")] = None,
    file: Annotated[Path | None, typer.Option(help="A text file, one prompt per line (# comments).")] = None,
    for_eval: bool = typer.Option(False, "--eval", help="Add to the fixed evaluation set instead."),
    campaign: str = typer.Option("default", help="The campaign whose prompts these are."),
) -> None:
    """Add prompts from arguments or a file; duplicates are skipped."""
    items = list(texts or []) + (read_prompt_file(file) if file else [])
    if not items:
        typer.echo("give prompts as arguments or --file", err=True)
        raise typer.Exit(2)
    try:
        source = PromptSource.imported if file else PromptSource.admin
        added, skipped = prompts.add_prompts(items, source=source, for_eval=for_eval, campaign=campaign)
    except (ValueError, LookupError, prompts.PromptsBusy, ClassifierUnavailable) as exc:  # a refusal names its rule
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"added {added}, skipped {skipped} already present")


@cli.command()
def backup(out: Annotated[Path, typer.Argument(help="A new directory for the copy.")]) -> None:
    """Copy the database and the media, latents and checkpoints a restore needs into OUT."""
    with exit_when_refused(FileExistsError, BackupFailed, prefix="backup failed: "):
        manifest = write_backup(get_settings(), out)
    typer.echo(f"backup in {out}: {manifest['database']}, {manifest['files']} files, {manifest['counts']}")


@cli.command("settings")
def show_settings(markdown: bool = typer.Option(False, help="Print docs/configuration.md's table.")) -> None:
    """List every setting, its environment variable, default and meaning."""
    for name, field in Settings.model_fields.items():
        env = f"DPOLOOP_{name.upper()}"
        default = field.get_default(call_default_factory=True)
        if isinstance(default, Path):
            default = default.relative_to(REPO_ROOT) if default.is_relative_to(REPO_ROOT) else default
        if isinstance(default, str) and default.startswith(str(REPO_ROOT)):
            default = Path(default).relative_to(REPO_ROOT)
        if markdown:
            typer.echo(f"| `{env}` | `{default}` | {field.description} |")
        else:
            typer.echo(f"{env}={default}  # {field.description}")


if __name__ == "__main__":
    cli()
