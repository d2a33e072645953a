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
# Two passes. First the suite spread over the cores by pytest-xdist (a file per worker at a time, at
# most 4 workers, one torch thread each so they do not fight over cores); then the tests marked serial,
# alone (they restart a shared service or hold a time budget). Either fails the run.
pytest_pass() {  # exit 5 is "nothing selected" (e.g. under -k): not a failure
  .venv/bin/python -m pytest "$@" || { local rc=$?; [ "$rc" -eq 5 ] || return "$rc"; }
}
workers=$(nproc); [ "$workers" -gt 4 ] && workers=4
status=0
OMP_NUM_THREADS=1 DPOLOOP_TORCH_THREADS=1 \
  pytest_pass -n "$workers" --dist loadfile -m "not serial" ${CI:+--durations=30} "$@" || status=$?
pytest_pass -m serial ${CI:+--durations=10} "$@" || status=$?
exit "$status"
