#!/usr/bin/env bash
# Sets chibo up with its test tools, then runs the linters, the type checker and every test,
# on SQLite and on PostgreSQL (CHIBO_TEST_POSTGRES_URL, default the local server).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
.venv/bin/ruff check .
.venv/bin/mypy
.venv/bin/pytest "$@"
