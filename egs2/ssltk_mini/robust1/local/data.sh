#!/usr/bin/env bash
# The robustness study's data:
#   data/{train,dev,test}, data/{phn_train,phn_dev,phn_test}: as ../compress1 (FSDD digits;
#       synthetic espeak-ng speech with phone transcripts), by its local/data.sh
#   data/distill_train: data/train + data/phn_train, the students' clean training audio
#   data/distort.yaml: conf/distort.yaml with the noise corpus (NOISE, db.sh) filled in
#   data/{test,phn_test}_<distortion>: each test set under each seen and unseen distortion
#       (ssltk.bin.distort_data; written once, the same audio on every rerun)
set -euo pipefail

num_utts=1000   # synthetic phone corpus size
seed=0          # of the distorted test sets
. ./db.sh
. ./path.sh
. utils/parse_options.sh

[ -d "${NOISE}/speech_commands_bg" ] || { echo "$0: ${NOISE}/speech_commands_bg: noise corpus not found (NOISE in db.sh)" >&2; exit 1; }
../compress1/local/data.sh --num_utts "${num_utts}"
python -m ssltk.bin.datadir combine data/distill_train data/train data/phn_train
sed "s#\${NOISE}#${NOISE}#g" conf/distort.yaml > data/distort.yaml.tmp && mv data/distort.yaml.tmp data/distort.yaml
conditions=$(local/conditions.sh data/distort.yaml)
for dset in test phn_test; do
    for cond in ${conditions}; do
        python -m ssltk.bin.distort_data --config data/distort.yaml --name "${cond}" --seed "${seed}" \
            "data/${dset}" "data/${dset}_${cond}"
    done
done
