#!/usr/bin/env bash
# data/{train,dev,test} of unlabelled speech for SSL pre-training: by default the
# synthetic corpus of ssltk.bin.synth_corpus --kind unpaired (espeak-ng speech; its
# phones.ctm phone alignments only score the k-means labels, nothing trains on them).
# With --src DIR, any Kaldi data dirs DIR/{train,dev,test} are used instead.
set -euo pipefail

src=            # directory holding {train,dev,test} data dirs (wav.scp; phones.ctm optional)
num_utts=1000   # synthetic corpus size
seed=0
. ./path.sh
. utils/parse_options.sh

if [ -z "${src}" ]; then
    src=downloads/synth_unpaired_seed${seed}_n${num_utts}
    python -m ssltk.bin.synth_corpus --kind unpaired --out "${src}" --seed "${seed}" --num-utts "${num_utts}"
    src=${src}/data
fi
mkdir -p data
for dset in train dev test; do
    [ -f "${src}/${dset}/wav.scp" ] || { echo "$0: ${src}/${dset}/wav.scp missing" >&2; exit 1; }
    if [ -f "data/${dset}/.done" ] && diff -rq -x .done "${src}/${dset}" "data/${dset}" >/dev/null; then
        echo "$0: data/${dset} is up to date" >&2
        continue
    fi
    rm -rf "data/${dset}"
    cp -r "${src}/${dset}" "data/${dset}"
    utils/validate_data_dir.sh "data/${dset}"
    touch "data/${dset}/.done"
done
