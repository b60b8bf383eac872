#!/usr/bin/env bash
# data/{train_nodev,train_dev,test} from CMU AN4 at AN4 (db.sh): ESPnet's utterance ids and
# transcript normalisation; the dev set is the first whole speakers of the training list
# (at least --dev_utts utterances), so no dev speaker is in train_nodev.
set -euo pipefail

dev_utts=100
. ./db.sh
. ./path.sh
. utils/parse_options.sh

python -m ssltk.bin.prep_an4 --an4 "${AN4}" --out data --dev_utts "${dev_utts}"
