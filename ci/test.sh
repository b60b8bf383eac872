#!/usr/bin/env bash
# The whole test suite: set up tools/venv when needed, check every shell
# script, then run pytest.  Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

make -C tools
# shellcheck disable=SC1091
. tools/activate_python.sh
bash ci/check_shell.sh
python -m pytest -q test "$@"
