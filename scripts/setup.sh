#!/usr/bin/env bash
# Creates .venv (once) and installs chibo into it, with the test tools when given "dev".
# Every dependency comes from the lock files in requirements/ (exact versions; `bash scripts/lock.sh`
# regenerates them), then chibo itself without resolving anything. The install compiles the
# translation catalogues (see hatch_build.py).
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "chibo needs Python 3.11 or newer; $python is $("$python" --version 2>&1)" >&2
  exit 1
fi
[ -x .venv/bin/python ] || "$python" -m venv .venv
lock=requirements/lock.txt
[ "${1:-}" = "dev" ] && lock=requirements/dev-lock.txt
pip=(.venv/bin/python -m pip --quiet --disable-pip-version-check)
"${pip[@]}" install -r "$lock" -r requirements/build.txt
"${pip[@]}" install --no-deps --no-build-isolation -e .
