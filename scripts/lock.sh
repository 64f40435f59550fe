#!/usr/bin/env bash
# Regenerates the lock files in requirements/ from pyproject.toml, with pip-tools in a throwaway
# environment: lock.txt (what chibo runs on), build.txt (what builds it: hatchling, babel) and
# dev-lock.txt (lock.txt plus the test tools). Every version is pinned with ==; the three agree on
# every package they share. Run it after changing a dependency in pyproject.toml, or to take newer
# releases (`bash scripts/lock.sh --upgrade`, or `--upgrade-package NAME`), then commit requirements/.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
tools=$(mktemp -d)
trap 'rm -rf "$tools"' EXIT
"$python" -m venv "$tools"
"$tools/bin/python" -m pip install --quiet --disable-pip-version-check pip-tools
compile() {
  # Local package indexes of this machine stay out of the files: they install from PyPI anywhere.
  CUSTOM_COMPILE_COMMAND="bash scripts/lock.sh" "$tools/bin/pip-compile" --quiet --strip-extras \
    --no-emit-find-links --no-emit-index-url --no-emit-trusted-host --resolver=backtracking "$@"
}
compile "$@" -o requirements/lock.txt pyproject.toml
compile "$@" --only-build-deps --all-build-deps -c requirements/lock.txt -o requirements/build.txt pyproject.toml
compile "$@" --extra dev -c requirements/lock.txt -c requirements/build.txt -o requirements/dev-lock.txt pyproject.toml
