#!/usr/bin/env bash
# Syntax-check every shell and Perl script of the repository, and run
# run ShellCheck (warnings and errors) on the shell scripts when it is installed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

mapfile -t shell_scripts < <(git ls-files '*.sh' .ci/run)
mapfile -t perl_scripts < <(git ls-files '*.pl')

status=0
for f in "${shell_scripts[@]}"; do
    bash -n "$f" || { echo "check_shell: bash -n failed: $f" >&2; status=1; }
done
for f in "${perl_scripts[@]}"; do
    perl -c "$f" 2>/dev/null || { echo "check_shell: perl -c failed: $f" >&2; status=1; }
done
if command -v shellcheck >/dev/null; then
    shellcheck --shell=bash --severity=warning --external-sources "${shell_scripts[@]}" || status=1
else
    echo "check_shell: shellcheck not installed; only syntax was checked" >&2
fi
[ "${status}" -eq 0 ] && echo "check_shell: ${#shell_scripts[@]} shell and ${#perl_scripts[@]} Perl scripts OK"
exit "${status}"
