#!/usr/bin/env bash
# SLURP intent classification (intent = scenario_action; scenario and action
# accuracy too) with FBANK and an SSL upstream (weighted sum of layers).
# Real SLURP when SLURP is set (db.sh); otherwise the synthetic intent corpus.
#   ./run.sh --num_utts 3000                   full config (conf/train.yaml was tuned on 3000 utts)
#   ./run.sh --upstreams "fbank /path/hubert_base_ls960.pt"
#   ./run.sh --train_config conf/tuning/train_debug.yaml --upstreams "fbank ssltk_mini"   (make demo)
set -euo pipefail

upstreams="fbank ssltk_mini ssltk_mini_student"  # ssltk's shipped pre-trained upstreams; hub names or checkpoint paths
train_config=conf/train.yaml
num_utts=1000                          # synthetic corpus size (1000: demo-sized; the full config: 3000)
stage=1
stop_stage=100
. utils/parse_options.sh

first=true
for upstream in ${upstreams}; do
    # data preparation and validation once, then train/decode/score per upstream
    start=$(${first} && echo "${stage}" || echo $((stage > 5 ? stage : 5)))
    ./cls.sh --stage "${start}" --stop_stage "${stop_stage}" \
        --train_set train --valid_set dev --test_sets test \
        --upstream "${upstream}" --featurizer weighted_sum \
        --train_config "${train_config}" --label_table utt2intent --intent true \
        --local_data_opts "--num_utts ${num_utts}"
    first=false
done
