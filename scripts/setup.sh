#!/usr/bin/env bash
# Create .venv and install hotline with its test dependencies. Idempotent; quick when done.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.hotline-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ scripts/constraints.txt -nt "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  # pinned to the versions the suite passed with (the file says how to refresh them)
  .venv/bin/python -m pip install --quiet -c scripts/constraints.txt -e ".[test]"
  touch "$stamp"
fi
