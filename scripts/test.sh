#!/usr/bin/env bash
# Set up, then lint (ruff), type-check (mypy) and run the whole test suite; arguments go
# to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PREFECT_SERVER_ANALYTICS_ENABLED=false DO_NOT_TRACK=1
.venv/bin/ruff check --quiet .
.venv/bin/mypy  # files and options: [tool.mypy] in pyproject.toml
exec .venv/bin/python -m pytest "$@"
