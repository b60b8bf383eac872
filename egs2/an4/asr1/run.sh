#!/usr/bin/env bash
# AN4 (CMU census database, real read speech: spelled words, digits, census answers):
# CTC ASR over characters on FBANK and on SSL upstreams (weighted sum of their layers),
# then the same data through ESPnet itself (local/espnet.sh: its stock FBANK frontend, and
# `frontend: ssltk` on an ssltk upstream); WER and CER on the AN4 test set (130 utterances
# of 10 unseen speakers) in RESULTS.md, each row with its config and training wall time.
#   ./run.sh [--upstreams "fbank /path/to/upstream.pt"] [--train_config conf/train.yaml]
#   ./run.sh --espnet false                       # ssltk rows only
set -euo pipefail

upstreams="fbank ssltk_mini ssltk_mini_student"  # hub names or checkpoint paths of pre-trained upstreams
train_config=conf/train.yaml
token_type=char                   # char | bpe (sentencepiece, --bpe_size)
bpe_size=30
dev_utts=100                      # dev set: whole speakers, at least this many utterances
test_sets="train_dev test"        # sets to decode and score
espnet=true                       # also run ESPnet's own set-up (local/espnet.sh)
espnet_config=conf/espnet/train_asr_transformer_cpu.yaml
espnet_ssltk_config=conf/espnet/train_asr_ssltk_cpu.yaml
espnet_upstream=fbank             # the upstream of ESPnet's `frontend: ssltk` row (an SSL one: see RESULTS.md notes)
stage=1
stop_stage=100
. utils/parse_options.sh

reference=espnet_$(basename "${espnet_config}" .yaml)   # RESULTS.md: CER relative to ESPnet's
first=true
for upstream in ${upstreams}; do
    start=$(${first} && echo "${stage}" || echo $((stage > 5 ? stage : 5)))
    ./asr.sh --stage "${start}" --stop_stage "${stop_stage}" \
        --train_set train_nodev --valid_set train_dev --test_sets "${test_sets}" \
        --upstream "${upstream}" --featurizer weighted_sum --train_config "${train_config}" \
        --token_type "${token_type}" --bpe_size "${bpe_size}" --local_data_opts "--dev_utts ${dev_utts}" \
        --results_reference "${reference}" --results_notes local/results_notes.md
    first=false
done
if ${espnet} && [ "${stop_stage}" -ge 5 ]; then
    local/espnet.sh --asr_config "${espnet_config}" --test_sets "${test_sets}" --results_reference "${reference}"
    local/espnet.sh --asr_config "${espnet_ssltk_config}" --upstream "${espnet_upstream}" \
        --test_sets "${test_sets}" --results_reference "${reference}"
fi
