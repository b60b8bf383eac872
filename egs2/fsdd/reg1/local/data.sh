#!/usr/bin/env bash
# data/{train,dev,test} from the Free Spoken Digit Dataset at FSDD (db.sh), split as in
# fsdd/cls1 (test = takes 0-4, dev = takes 5-9, train = the rest), and each set's
# per-frame track (--track, default log_energy at 100 frames/s): the regression targets.
set -euo pipefail

track=log_energy
. ./db.sh
. ./path.sh
. utils/parse_options.sh

python -m ssltk.bin.prep_fsdd --fsdd "${FSDD}" --out data
python -m ssltk.bin.frame_tracks --track "${track}" --data data/train data/dev data/test
