#!/usr/bin/env bash
# Setswana-English code-switching CTC ASR on the synthetic corpus (or any data
# dirs with word-level language tags, via local/data.sh --src): mixed error
# rate and per-language error rates, FBANK and an SSL upstream.
set -euo pipefail

upstreams="fbank ssltk_mini ssltk_mini_student"  # ssltk's shipped pre-trained upstreams; hub names or checkpoint paths
train_config=conf/train.yaml
num_utts=2000                     # synthetic corpus size (conf/train.yaml was tuned on 2000)
stage=1
stop_stage=100
. utils/parse_options.sh

first=true
for upstream in ${upstreams}; do
    start=$(${first} && echo "${stage}" || echo $((stage > 5 ? stage : 5)))
    ./asr.sh --task cs --stage "${start}" --stop_stage "${stop_stage}" \
        --train_set train --valid_set dev --test_sets test \
        --upstream "${upstream}" --featurizer weighted_sum --train_config "${train_config}" \
        --token_type char --local_data_opts "--num_utts ${num_utts}"
    first=false
done
