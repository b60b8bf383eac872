#!/usr/bin/env bash
# Helpers shared by the stage scripts of egs2/TEMPLATE (sourced, not run):
#   log MSG...                 timestamped message with the caller's script and line, on stderr
#   die MSG...                 log "error: MSG" and exit 1
#   fresh OUT [IN ...]         true when OUT exists and no IN is newer: a finished step, skipped on a rerun
#   set_launcher NGPU [MODULE] set the array launcher to "python -m [MODULE]", or for NGPU > 1 to
#                              torch.distributed.run with one process per GPU running MODULE:
#                              set_launcher "${ngpu}" ssltk.bin.train; "${launcher[@]}" --exp ...
#   trained EXP                true when EXP/results.json (written by the trainers) says "finished": true

log() { echo "$(date '+%Y-%m-%dT%H:%M:%S') ($(basename "$0"):${BASH_LINENO[0]}) $*" >&2; }

die() { log "error: $*"; exit 1; }

fresh() {
    local out=$1 dep
    shift
    [ -e "${out}" ] || return 1
    for dep in "$@"; do
        [ "${dep}" -nt "${out}" ] && return 1
    done
    return 0
}

set_launcher() {
    local ngpu=$1
    shift
    [[ "${ngpu}" =~ ^[0-9]+$ ]] || die "--ngpu must be a non-negative integer, not '${ngpu}'"
    # shellcheck disable=SC2034  # launcher is the caller's
    if [ "${ngpu}" -gt 1 ]; then
        launcher=(python -m torch.distributed.run --standalone --nproc_per_node "${ngpu}" -m "$@")
    else
        launcher=(python -m "$@")
    fi
}

# results.json is indented JSON (ssltk.data.datadir.write_json): the top-level key is the
# line '  "finished": true,' (history entries are indented deeper).
trained() { [ -f "$1/results.json" ] && grep -Eq '^  "finished": true,?$' "$1/results.json"; }
