#!/usr/bin/env bash
# CTC ASR / phone recognition (--task asr) or code-switching ASR (--task cs) on
# an upstream: the stages of ../downstream.sh.  Options: asr.sh --help
exec "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../downstream.sh" --task asr "$@"
