#!/usr/bin/env bash
# data/{train,dev,test} from the Free Spoken Digit Dataset at FSDD (db.sh):
# test = takes 0-4 (FSDD's official split), dev = takes 5-9, train = the rest.
# --heldout_speaker NAME: train/dev without that speaker, test = all of its takes.
set -euo pipefail

heldout_speaker=
. ./db.sh
. ./path.sh
. utils/parse_options.sh

opts=()
[ -n "${heldout_speaker}" ] && opts+=(--heldout_speaker "${heldout_speaker}")
python -m ssltk.bin.prep_fsdd --fsdd "${FSDD}" --out data "${opts[@]}"
