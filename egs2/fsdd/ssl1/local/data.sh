#!/usr/bin/env bash
# data/{train,dev,test} from the Free Spoken Digit Dataset at FSDD (db.sh), as in
# ../cls1 (train = takes 10-49, dev = takes 5-9, test = takes 0-4).  SSL pre-training
# uses the audio of train (and dev for validation) only: the digit and speaker labels
# are not used, and there is no phone alignment, so k-means PNMI is not scored.
set -euo pipefail

. ./db.sh
. ./path.sh
. utils/parse_options.sh

if [ -f data/train/wav.scp ] && [ -f data/dev/wav.scp ] && [ -f data/test/wav.scp ]; then
    echo "$0: data/{train,dev,test} exist (remove data/ to prepare again)" >&2
    exit 0
fi
python -m ssltk.bin.prep_fsdd --fsdd "${FSDD}" --out data
