#!/usr/bin/env bash
# Set up and run dpoloop's tests on a fresh Debian machine with Python 3.11:
# a virtualenv with the project, the import contracts, then PostgreSQL, Redis and Chromium, then pytest.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -k labeling`).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
.venv/bin/lint-imports  # the layering contracts in pyproject.toml: core below app and worker, torch only in worker
service_env=$(bash scripts/services.sh)  # fails here, loudly, if a service cannot be started
eval "$service_env"
export DPOLOOP_REQUIRE_SERVICES=1  # a missing service fails the tests instead of skipping them
# On CI (CI set) the log names the slowest tests, to keep the run short.
exec .venv/bin/python -m pytest ${CI:+--durations=30} "$@"
