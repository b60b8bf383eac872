#!/usr/bin/env bash
# Utterance classification (digits, speakers, intents) on an upstream:
# the stages of ../downstream.sh with --task cls.  Options: cls.sh --help
exec "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../downstream.sh" --task cls "$@"
