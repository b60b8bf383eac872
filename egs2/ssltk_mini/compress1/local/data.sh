#!/usr/bin/env bash
# The compression study's data:
#   data/{train,dev,test}: FSDD (db.sh) digits (utt2category) and speakers (utt2spk); test =
#       takes 0-4 (FSDD's split), dev = takes 5-9, train = the rest; train is also the audio of
#       continued pre-training (no labels used)
#   data/{phn_train,phn_dev,phn_test}: synthetic espeak-ng speech with its phone transcripts
#       (text.phn; ssltk.bin.synth_corpus --kind unpaired: its speech side, transcribed)
set -euo pipefail

num_utts=1000   # synthetic phone corpus size
seed=0
. ./db.sh
. ./path.sh
. utils/parse_options.sh

python -m ssltk.bin.prep_fsdd --fsdd "${FSDD}" --out data
corpus=downloads/synth_unpaired_seed${seed}_n${num_utts}
python -m ssltk.bin.synth_corpus --kind unpaired --out "${corpus}" --seed "${seed}" --num-utts "${num_utts}"
for dset in train dev test; do
    src=${corpus}/data/${dset} dst=data/phn_${dset}
    [ -f "${src}/text.phn" ] || { echo "$0: ${src}/text.phn missing" >&2; exit 1; }
    if [ -f "${dst}/.done" ] && diff -rq -x .done "${src}" "${dst}" >/dev/null; then
        continue
    fi
    rm -rf "${dst}"
    cp -r "${src}" "${dst}"
    utils/validate_data_dir.sh "${dst}"
    touch "${dst}/.done"
done
