"""The admin commands of the CLI, on the default SQLite database."""

from typer.testing import CliRunner

from cli.main import cli
from tests.conftest import apply_settings


def test_migrate_labelers_and_prompts(tmp_path, monkeypatch):
    apply_settings(monkeypatch, data_dir=tmp_path / "data", port=8123)
    runner = CliRunner()
    assert runner.invoke(cli, ["migrate"]).exit_code == 0
    created = runner.invoke(cli, ["labelers", "create", "zoe", "--admin"])
    assert created.exit_code == 0 and "(admin)" in created.output
    assert "login: http://127.0.0.1:8123/admin/#token=" in created.output  # an admin lands in the console
    token = created.output.split("token: ")[1].split()[0]
    duplicate = runner.invoke(cli, ["labelers", "create", "zoe"])
    assert duplicate.exit_code == 1 and "exists" in duplicate.output
    kept = runner.invoke(cli, ["labelers", "create", "ai-scenes"])
    assert kept.exit_code == 1 and "kept for AI labelers" in kept.output

    prompt_file = tmp_path / "prompts.txt"
    prompt_file.write_text("# comment\na red circle\n\na blue square\n")
    added = runner.invoke(cli, ["prompts", "add", "a green cross", "--file", str(prompt_file)])
    assert added.exit_code == 0 and "added 3, skipped 0" in added.output
    again = runner.invoke(cli, ["prompts", "add", "a red circle"])
    assert "added 0, skipped 1" in again.output
    assert runner.invoke(cli, ["prompts", "add"]).exit_code == 2
    assert runner.invoke(cli, ["prompts", "add", "x" * 2000]).exit_code == 2

    from core.db.session import session_scope
    from core.repo.labelers import by_token
    from core.repo.prompts import active_prompts

    with session_scope() as session:
        assert by_token(session, token).name == "zoe"
        assert [p.text for p in active_prompts(session)] == ["a green cross", "a red circle", "a blue square"]


def test_settings_command_lists_every_variable():
    output = CliRunner().invoke(cli, ["settings", "--markdown"]).output
    for variable in ("DPOLOOP_DATA_DIR", "DPOLOOP_DATABASE_URL", "DPOLOOP_BROKER_URL", "DPOLOOP_POOL_TARGET"):
        assert f"`{variable}`" in output


def test_rounds_and_checkpoints_commands(tmp_path, monkeypatch):
    apply_settings(monkeypatch, data_dir=tmp_path / "data")
    runner = CliRunner()
    assert runner.invoke(cli, ["migrate"]).exit_code == 0
    bad = runner.invoke(cli, ["rounds", "start", "--config", '{"beta": -1}'])
    assert bad.exit_code == 2 and "invalid --config" in bad.output
    assert runner.invoke(cli, ["rounds", "start", "--config", "not json"]).exit_code == 2
    started = runner.invoke(cli, ["rounds", "start", "--config", '{"steps": 5}'])
    assert started.exit_code == 0 and "round 1 queued" in started.output  # onto the file broker
    busy = runner.invoke(cli, ["rounds", "start"])
    assert busy.exit_code == 1 and "already" in busy.output
    listed = runner.invoke(cli, ["rounds", "list"])
    assert "queued" in listed.output
    assert runner.invoke(cli, ["rounds", "cancel", "1"]).exit_code == 0
    assert "cancelled" in runner.invoke(cli, ["rounds", "list"]).output
    assert runner.invoke(cli, ["rounds", "cancel", "1"]).exit_code == 1

    unknown = runner.invoke(cli, ["checkpoints", "promote", "42"])
    assert unknown.exit_code == 1 and "does not exist" in unknown.output
    assert runner.invoke(cli, ["checkpoints", "promote", "1"]).exit_code == 0
    assert "*   1 base" in runner.invoke(cli, ["checkpoints", "list"]).output
    policy = runner.invoke(cli, ["simulate-labelers", "--policy", "bogus", "--votes", "1"])
    assert policy.exit_code == 2 and "unknown policy" in policy.output


def test_backup_of_a_postgres_install_restores(pg_settings, postgres_admin_url, tmp_path):
    import subprocess

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from core.services import labeling
    from core.settings import get_settings
    from core.states import Choice
    from tests.conftest import create_database, drop_database
    from tests.helpers.data import make_comparisons, make_labeler, serve

    (cid,) = make_comparisons(1)
    alice, _ = make_labeler("alice")
    serve(cid, alice)
    labeling.vote(cid, alice, Choice.left, None, get_settings())
    result = CliRunner().invoke(cli, ["backup", str(tmp_path / "backup")])
    assert result.exit_code == 0, result.output
    assert CliRunner().invoke(cli, ["backup", str(tmp_path / "backup")]).exit_code == 1  # never over a backup
    restored = create_database(postgres_admin_url)
    try:
        libpq = make_url(restored).set(drivername="postgresql").render_as_string(hide_password=False)
        subprocess.run(["pg_restore", "--no-owner", "-d", libpq, str(tmp_path / "backup" / "dpoloop.pgdump")],
                       check=True, capture_output=True)  # fmt: skip
        engine = create_engine(restored)
        with engine.connect() as conn:
            assert conn.execute(text("select count(*) from votes")).scalar() == 1
            assert conn.execute(text("select count(*) from install")).scalar() == 1
        engine.dispose()
    finally:
        drop_database(postgres_admin_url, restored)
    assert len(list((tmp_path / "backup" / "media").glob("*.png"))) == 2


def test_prompts_add_refuses_a_prompt_the_filter_names(tmp_path, monkeypatch):
    from core.services import prompt_filter

    apply_settings(monkeypatch, data_dir=tmp_path / "data")
    runner = CliRunner()
    assert runner.invoke(cli, ["migrate"]).exit_code == 0
    rule = prompt_filter.add_rule("gore", False, by="test")
    refused = runner.invoke(cli, ["prompts", "add", "a red circle", "gore at night"])
    assert refused.exit_code == 2 and f"rule {rule.id} ('gore')" in refused.output
    assert "added 1" in runner.invoke(cli, ["prompts", "add", "a red circle"]).output


def test_start_refuses_a_pipeline_of_an_unsupported_family_naming_the_supported_ones(tmp_path, monkeypatch):
    model = tmp_path / "kandinsky"
    model.mkdir()
    (model / "model_index.json").write_text('{"_class_name": "KandinskyV22Pipeline"}')
    apply_settings(monkeypatch, data_dir=tmp_path / "data", base_model=model)
    for command in (["up"], ["worker"]):
        result = CliRunner().invoke(cli, command)
        assert result.exit_code == 2, result.output
        for name in ("KandinskyV22Pipeline", "StableDiffusion3Pipeline", "FluxPipeline", "StableDiffusionXLPipeline"):
            assert name in result.output


def test_several_api_processes_are_refused_without_redis(tmp_path, monkeypatch):
    """Rate limits count in each process's memory without Redis: N processes would let N times through."""
    monkeypatch.delenv("DPOLOOP_BROKER_URL", raising=False)  # the default: the file broker
    apply_settings(monkeypatch, data_dir=tmp_path / "data")
    result = CliRunner().invoke(cli, ["api", "--workers", "2"])
    assert result.exit_code == 2 and "need Redis" in result.output
