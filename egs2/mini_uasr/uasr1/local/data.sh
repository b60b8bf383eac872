#!/usr/bin/env bash
# Unpaired speech and text for unsupervised ASR: the synthetic corpus of
# ssltk.bin.synth_corpus --kind unpaired (espeak-ng speech of one sentence pool, text-only
# sentences of the same grammar, no sentence on both sides).
#   data/{train,dev,test}: speech (text.phn: reference phones, for PER only; utt2scene)
#   data/text_only/text.txt: the unpaired text (phonemised in stage 3 with espeak-ng)
# With --src DIR, any data dirs DIR/{train,dev,test} and DIR/text_only/text.txt are used.
set -euo pipefail

src=            # directory holding {train,dev,test} data dirs and text_only/text.txt
num_utts=1000   # synthetic corpus size (spoken sentences; as many text-only ones)
seed=0
. ./path.sh
. utils/parse_options.sh

if [ -z "${src}" ]; then
    corpus=downloads/synth_unpaired_seed${seed}_n${num_utts}
    python -m ssltk.bin.synth_corpus --kind unpaired --out "${corpus}" --seed "${seed}" --num-utts "${num_utts}"
    src=${corpus}/data
    mkdir -p "${src}/text_only"
    cp "${corpus}/text_only/text.txt" "${src}/text_only/text.txt"
    ln -sfn "$(cd "${corpus}" && pwd)" downloads/corpus  # local/clip_targets.sh reads its scenes
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
[ -f "${src}/text_only/text.txt" ] || { echo "$0: ${src}/text_only/text.txt missing" >&2; exit 1; }
mkdir -p data/text_only
cmp -s "${src}/text_only/text.txt" data/text_only/text.txt || cp "${src}/text_only/text.txt" data/text_only/text.txt
