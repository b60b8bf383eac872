#!/usr/bin/env bash
# data/{train,dev,test} for Setswana-English code-switching ASR.  By default the
# synthetic code-switching corpus (espeak-ng voices tn and en); with --src DIR,
# any Kaldi data dirs DIR/{train,dev,test} that hold text and text.lang
# (one language tag per word of text) are used instead (real corpora).
set -euo pipefail

src=            # directory holding {train,dev,test} data dirs with text.lang
num_utts=1000   # synthetic corpus size
seed=0
. ./path.sh
. utils/parse_options.sh

if [ -z "${src}" ]; then
    src=downloads/synth_cs_seed${seed}_n${num_utts}
    python -m ssltk.bin.synth_corpus --kind codeswitch --out "${src}" --seed "${seed}" --num-utts "${num_utts}"
    src=${src}/data
fi
for dset in train dev test; do
    [ -f "${src}/${dset}/text.lang" ] || { echo "$0: ${src}/${dset}/text.lang missing" >&2; exit 1; }
    mkdir -p data
    rm -rf "data/${dset}"
    cp -r "${src}/${dset}" "data/${dset}"
    utils/validate_data_dir.sh "data/${dset}"
done
