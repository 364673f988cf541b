#!/usr/bin/env bash
# Set up, then lint (ruff), type-check (mypy) and run the whole test suite; arguments go
# to pytest (`-n 0` runs the tests in this process, one after another).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PREFECT_SERVER_ANALYTICS_ENABLED=false DO_NOT_TRACK=1
.venv/bin/ruff check --quiet .
.venv/bin/mypy  # files and options: [tool.mypy] in pyproject.toml
# One worker process per core (at most four); a test module runs whole on one worker, so
# its module fixtures (a served site, a seeded catalog, a browser) are set up once.
exec .venv/bin/python -m pytest -n auto --maxprocesses=4 --dist loadfile "$@"
