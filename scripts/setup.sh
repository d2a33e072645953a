#!/usr/bin/env bash
# Create .venv with dpoloop and everything it needs, exactly as pinned (with hashes) in
# requirements.lock (torch 2.13.0 is the CPU build on this kind of machine; scripts/lock.sh updates it).
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian's python3 lacks venv/ensurepip until python3-venv is installed.
if ! command -v python3 >/dev/null || ! python3 -c "import ensurepip, venv" >/dev/null 2>&1; then
  echo "setup: installing python3 and python3-venv" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq python3 python3-venv python3-dev >&2
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q --require-hashes -r requirements.lock
.venv/bin/pip install -q --no-deps -e .
