#!/usr/bin/env bash
# Sets chibo up with its test tools, then runs the linters, the type checker and every test,
# on SQLite and on PostgreSQL (CHIBO_TEST_POSTGRES_URL, default the local server).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
.venv/bin/ruff check .
# The type checker runs beside the tests: it keeps one core busy for half a minute, and the tests,
# waiting on the database and on the processes they start, leave about that much idle.
types=$(mktemp)
.venv/bin/mypy >"$types" 2>&1 &
checking=$!
# Stopped (Ctrl+C, a CI time-out), the type checker stops too.
trap 'kill "$checking" 2>/dev/null || true; rm -f "$types"' EXIT
trap 'exit 130' INT TERM
tests=0
.venv/bin/pytest "$@" || tests=$?
if ! wait "$checking"; then
  cat "$types"
  exit 1
fi
tail -n 1 "$types"
exit "$tests"
