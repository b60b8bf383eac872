#!/usr/bin/env bash
# Sourced by recipes' path.sh: activates the environment made by `make -C tools`.
_ssltk_tools=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ ! -f "${_ssltk_tools}/venv/bin/activate" ]; then
    echo "ssltk: ${_ssltk_tools}/venv not found; run 'make -C ${_ssltk_tools}' first" >&2
    return 1 2>/dev/null || exit 1
fi
# shellcheck disable=SC1091
. "${_ssltk_tools}/venv/bin/activate"
unset _ssltk_tools
