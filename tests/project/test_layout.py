"""Rules of the project that code review alone would let slip."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def test_the_api_process_never_imports_torch():
    code = "import sys, app.api.main, cli.main; app.api.main.create_app(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_no_module_under_app_or_core_imports_torch_diffusers_or_peft():
    heavy = re.compile(r"^\s*(import|from)\s+(torch|diffusers|peft)\b", re.M)
    offenders = [str(p) for d in ("app", "core") for p in (REPO / d).rglob("*.py") if heavy.search(p.read_text())]
    assert offenders == []


def test_core_imports_neither_torch_nor_the_packages_above_it():
    """Every core module, imported in a fresh interpreter, leaves torch & co. and app/worker unloaded."""
    modules = sorted(".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
                     for p in (REPO / "core").rglob("*.py"))  # fmt: skip
    assert "core.services.rounds" in modules and "core.queue" in modules
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "roots = {m.split('.')[0] for m in sys.modules}\n"
        "print(json.dumps(sorted(roots & {'torch', 'diffusers', 'peft', 'transformers', 'app', 'worker'})))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_importing_the_api_creates_no_directories(tmp_path):
    """Building the app object makes its dirs; importing routes (and the Celery app) touches no disk."""
    data_dir = tmp_path / "data"
    code = "import app.api.main, app.api.routes.generations, app.api.routes.health, core.queue"
    env = {**os.environ, "DPOLOOP_DATA_DIR": str(data_dir)}
    subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, check=True)
    assert not data_dir.exists()


def test_compose_file_is_valid_and_has_every_service():
    tool = shutil.which("check-jsonschema") or str(Path(sys.executable).parent / "check-jsonschema")
    result = subprocess.run([tool, "--builtin-schema", "vendor.compose-spec", str(REPO / "docker-compose.yml")],
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    text = (REPO / "docker-compose.yml").read_text()
    services = yaml.safe_load(text)["services"]
    every = {"postgres", "redis", "s3", "api", "worker-generate", "worker-train", "beat", "flower", "proxy"}
    assert every <= set(services)
    for name in ("postgres", "redis", "s3", "api", "worker-generate", "worker-train", "flower", "proxy"):
        assert "healthcheck" in services[name], name


def test_the_production_stack_has_no_default_secrets_and_one_public_door():
    text = (REPO / "docker-compose.yml").read_text()
    services = yaml.safe_load(text)["services"]
    assert "POSTGRES_PASSWORD:-" not in text and "${POSTGRES_PASSWORD:?" in text  # no default: refuses to start
    assert "${S3_ACCESS_KEY:?" in text and "${S3_SECRET_KEY:?" in text and "ports" not in services["s3"]
    for name in ("api", "worker-generate", "worker-train", "beat"):  # every part reads and writes the same store
        assert services[name]["environment"]["DPOLOOP_STORAGE_URL"].startswith("${DPOLOOP_STORAGE_URL:-s3://")
        assert services[name]["depends_on"]["s3"]["condition"] == "service_healthy"
    assert "${FLOWER_PASSWORD:?" in services["flower"]["environment"]["FLOWER_BASIC_AUTH"]
    assert services["flower"]["ports"] == ["127.0.0.1:5555:5555"] and "ports" not in services["api"]
    assert {"80:80", "443:443"} == set(services["proxy"]["ports"]) and (REPO / "deploy" / "Caddyfile").is_file()
    assert "USER dpoloop" in (REPO / "Dockerfile").read_text()


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    assert "bash scripts/test.sh" in ci and "bash scripts/test.sh" in readme


def test_the_lock_pins_every_dependency_with_hashes():
    """setup.sh installs from requirements.lock with --require-hashes: a dependency added to
    pyproject.toml without re-running scripts/lock.sh would be missing there."""
    import tomllib

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["worker"],
              *project["optional-dependencies"]["test"]]  # fmt: skip
    lock = (REPO / "requirements.lock").read_text()
    pinned = {canonicalize_name(line.split("==")[0]): line.split("==")[1].split()[0]
              for line in lock.splitlines() if "==" in line and not line.startswith((" ", "#"))}  # fmt: skip
    for requirement in map(Requirement, wanted):
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{name} is not in requirements.lock: run bash scripts/lock.sh"
        assert requirement.specifier.contains(pinned[name].split("+")[0], prereleases=True), (name, pinned[name])
    lines = lock.splitlines()
    for i, line in enumerate(lines):
        if "==" in line and not line.startswith((" ", "#")):
            assert lines[i + 1].strip().startswith("--hash=sha256:"), f"{line.split()[0]} has no hash"
    assert "bash scripts/lock.sh" in (REPO / "docs" / "development.md").read_text()
