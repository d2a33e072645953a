#!/usr/bin/env bash
# Set up and start the default dpoloop on this machine: SQLite, a file broker, the embedded model.
# Prints the URL and an admin and a labeler login; Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
exec .venv/bin/dpoloop up "$@"
