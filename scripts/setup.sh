#!/usr/bin/env bash
# Create .venv with dpoloop and everything it needs (torch first: 2.13.0 is the CPU build).
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q torch==2.13.0
.venv/bin/pip install -q -e ".[worker,test]"
