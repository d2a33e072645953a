#!/usr/bin/env bash
# Pin every package dpoloop installs, with hashes, into requirements.lock (scripts/setup.sh and CI
# install from it). Run after changing dependencies in pyproject.toml; commit the result.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .cache/lock-venv
.cache/lock-venv/bin/pip install -q pip-tools
.cache/lock-venv/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
  --no-emit-index-url --no-emit-find-links --extra worker --extra test \
  --output-file requirements.lock pyproject.toml requirements-torch.in
echo "requirements.lock: $(grep -c '^[a-z]' requirements.lock) packages"
