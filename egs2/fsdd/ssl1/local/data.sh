#!/usr/bin/env bash
# data/{train,dev,test} from the Free Spoken Digit Dataset at FSDD (db.sh).  SSL
# pre-training uses the audio of train (and dev for validation) only: the digit and
# speaker labels are not used, and there is no phone alignment, so k-means PNMI is not
# scored.  By default one speaker is held out (test = all of that speaker's takes,
# train/dev = takes 10-49 / 5-9 of the others), so that the low-resource evaluation in
# ../cls1 (--heldout_speaker theo) tests on a voice the upstream never heard.
set -euo pipefail

heldout_speaker=theo    # "": no held-out speaker (test = takes 0-4 of every speaker)
. ./db.sh
. ./path.sh
. utils/parse_options.sh

if [ -f data/train/wav.scp ] && [ -f data/dev/wav.scp ] && [ -f data/test/wav.scp ]; then
    echo "$0: data/{train,dev,test} exist (remove data/ to prepare again)" >&2
    exit 0
fi
opts=()
[ -z "${heldout_speaker}" ] || opts+=(--heldout_speaker "${heldout_speaker}")
python -m ssltk.bin.prep_fsdd --fsdd "${FSDD}" --out data "${opts[@]}"
