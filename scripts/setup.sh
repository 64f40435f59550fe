#!/usr/bin/env bash
# Creates .venv (once) and installs chibo into it, with the test tools when given "dev".
# Every dependency comes from the lock files in requirements/ (exact versions; `bash scripts/lock.sh`
# regenerates them), then chibo itself without resolving anything. The install compiles the
# translation catalogues (see hatch_build.py). The packages are installed by uv (pinned below, put
# into .venv by pip): it downloads and installs them in parallel, about 20 s for the dev lock on a
# fresh machine where pip takes two to three minutes, which counts in CI's ten.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
uv_version=0.13.9
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "chibo needs Python 3.11 or newer; $python is $("$python" --version 2>&1)" >&2
  exit 1
fi
[ -x .venv/bin/python ] || "$python" -m venv .venv
lock=requirements/lock.txt
[ "${1:-}" = "dev" ] && lock=requirements/dev-lock.txt
if [ "$(.venv/bin/uv --version 2>/dev/null)" != "uv $uv_version" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check "uv==$uv_version"
fi
uv=(.venv/bin/uv pip install --quiet --python .venv/bin/python)
# Compiled once here: where PYTHONDONTWRITEBYTECODE is set (this machine sets it), every process
# otherwise compiles each module it imports from source, 3.5 s to import the app instead of 1.4.
"${uv[@]}" --compile-bytecode -r "$lock" -r requirements/build.txt
"${uv[@]}" --no-deps --no-build-isolation -e .
# A file that does not compile is named here and left to ruff and the tests to report.
.venv/bin/python -m compileall -q -j 0 bot handlers models scheduler webhooks || true
