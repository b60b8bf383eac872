#!/usr/bin/env bash
# data/{train,dev,test} from SLURP's JSONL + audio layout: the real SLURP when
# SLURP (db.sh) names its root, otherwise ssltk's synthetic intent corpus,
# generated here in the same layout (one data prep serves both).
set -euo pipefail

num_utts=1000   # synthetic corpus size (all splits)
seed=0          # synthetic corpus seed
mic=all         # real SLURP: all | headset | far

. ./db.sh
. ./path.sh
. utils/parse_options.sh

if [ -z "${SLURP}" ]; then
    SLURP=downloads/synth_intent_seed${seed}_n${num_utts}
    echo "$0: SLURP is not set in db.sh: using the synthetic intent corpus ${SLURP}" >&2
    python -m ssltk.bin.synth_corpus --kind intent --out "${SLURP}" --seed "${seed}" --num-utts "${num_utts}"
elif [ ! -d "${SLURP}" ]; then
    echo "$0: SLURP=${SLURP}: no such directory (set SLURP in db.sh or the environment)" >&2
    exit 1
fi
python -m ssltk.bin.prep_slurp --slurp "${SLURP}" --out data --mic "${mic}"
