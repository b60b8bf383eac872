#!/usr/bin/env bash
# FSDD frame-level regression: predict each frame's log-energy from the features of an
# upstream (a probe of what a layer knows about loudness; the prosody studies build on it).
#   ./run.sh [--upstreams "fbank hubert_base"] [--train_config conf/train.yaml]
set -euo pipefail

upstreams="fbank ssltk_mini ssltk_mini_student"  # ssltk's shipped pre-trained upstreams; hub names or checkpoint paths
train_config=conf/train.yaml
featurizer=weighted_sum
layer=-1
stage=1
stop_stage=100
. utils/parse_options.sh

first=true
for upstream in ${upstreams}; do
    start=$(${first} && echo "${stage}" || echo $((stage > 5 ? stage : 5)))
    ./downstream.sh --task frame_reg --stage "${start}" --stop_stage "${stop_stage}" \
        --train_set train --valid_set dev --test_sets test \
        --upstream "${upstream}" --featurizer "${featurizer}" --layer "${layer}" \
        --train_config "${train_config}"
    first=false
done
