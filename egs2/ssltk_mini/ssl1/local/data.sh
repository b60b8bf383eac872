#!/usr/bin/env bash
# data/{train,dev} for pre-training ssltk's reference upstream: every training recording
# the project reaches offline, plus synthetic multi-language speech.
#   train: the synthetic pretrain corpus's train split (espeak-ng, --num_utts), FSDD takes
#          10-49 of every speaker but theo (FSDD at db.sh; theo and takes 0-4 are the test
#          sets of ../../fsdd/cls1) and AN4's whole training list (AN4 at db.sh; its test
#          list is never read).
#   dev:   the synthetic corpus's dev split (validation and, through its phones.ctm, PNMI).
# Labels and transcripts are not used by pre-training.
set -euo pipefail

num_utts=6000   # synthetic utterances (about 3.4 s each)
seed=0
nj=2            # synthesis processes
. ./db.sh
. ./path.sh
. utils/parse_options.sh

if [ -f data/train/.done ] && [ -f data/dev/.done ]; then
    echo "$0: data/{train,dev} exist (remove data/ to prepare again)" >&2
    exit 0
fi
[ -d "${FSDD}/recordings" ] || { echo "$0: FSDD=${FSDD}: no recordings/ (set FSDD in db.sh)" >&2; exit 1; }
[ -d "${AN4}/etc" ] || { echo "$0: AN4=${AN4}: no etc/ (set AN4 in db.sh)" >&2; exit 1; }

synth=downloads/synth_pretrain_seed${seed}_n${num_utts}
python -m ssltk.bin.synth_corpus --kind pretrain --out "${synth}" --seed "${seed}" \
    --num-utts "${num_utts}" --nj "${nj}"
python -m ssltk.bin.prep_fsdd --fsdd "${FSDD}" --out data/local/fsdd --heldout_speaker theo
python -m ssltk.bin.prep_an4 --an4 "${AN4}" --out data/local/an4

rm -rf data/train data/dev
utils/combine_data.sh data/train "${synth}/data/train" data/local/fsdd/train \
    data/local/an4/train_nodev data/local/an4/train_dev
cp -r "${synth}/data/dev" data/dev
for dset in train dev; do
    utils/validate_data_dir.sh "data/${dset}"
    touch "data/${dset}/.done"
done
echo "${SECONDS}" > data/.prep_seconds  # for the model card's budget
