#!/usr/bin/env bash
# AN4 (CMU census database, real read speech: spelled words, digits, census answers):
# CTC ASR over characters on FBANK and on SSL upstreams (weighted sum of their layers),
# WER and CER on the AN4 test set (130 utterances of 10 unseen speakers).
#   ./run.sh [--upstreams "fbank /path/to/upstream.pt"] [--train_config conf/train.yaml]
set -euo pipefail

upstreams="fbank"                 # add checkpoint paths of pre-trained upstreams
train_config=conf/train.yaml
token_type=char                   # char | bpe (sentencepiece, --bpe_size)
bpe_size=30
dev_utts=100                      # dev set: whole speakers, at least this many utterances
stage=1
stop_stage=100
. utils/parse_options.sh

first=true
for upstream in ${upstreams}; do
    start=$(${first} && echo "${stage}" || echo $((stage > 5 ? stage : 5)))
    ./asr.sh --stage "${start}" --stop_stage "${stop_stage}" \
        --train_set train_nodev --valid_set train_dev --test_sets "train_dev test" \
        --upstream "${upstream}" --featurizer weighted_sum --train_config "${train_config}" \
        --token_type "${token_type}" --bpe_size "${bpe_size}" --local_data_opts "--dev_utts ${dev_utts}"
    first=false
done
