#!/usr/bin/env bash
# SpokenCOCO for unsupervised ASR with a CLIP loss: speech data dirs with each caption's
# image (utt2image), and the captions of held-out train images as unpaired text
# (SPOKENCOCO in db.sh).
set -euo pipefail

text_only_fraction=0.5   # share of train images whose captions are text only
max_images=              # first N images per split (a quick look)
seed=0
. ./path.sh
. ./db.sh
. utils/parse_options.sh

if [ -z "${SPOKENCOCO}" ] || [ ! -d "${SPOKENCOCO}" ]; then
    echo "$0: SPOKENCOCO='${SPOKENCOCO}' is not a directory: set it in db.sh or the environment" >&2
    exit 1
fi
python -m ssltk.bin.prep_spokencoco --root "${SPOKENCOCO}" --out data --splits train,val \
    --text_only_fraction "${text_only_fraction}" --seed "${seed}" ${max_images:+--max_images "${max_images}"}
