#!/usr/bin/env bash
# Sets chibo up and runs it with the demo commune: SQLite, web chat on http://127.0.0.1:8000.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/chibo demo "$@"
