#!/usr/bin/env bash
# FSDD digit classification (utt2category) and speaker identification (utt2spk)
# on real speech, with FBANK and an SSL upstream (weighted sum).
#   ./run.sh [--upstreams "fbank /path/to/hubert.pt"] [--train_config conf/train.yaml]
set -euo pipefail

upstreams="fbank ssltk_mini ssltk_mini_student"  # ssltk's shipped pre-trained upstreams; hub names or checkpoint paths
train_config=conf/train.yaml
tasks="digit speaker"
stage=1
stop_stage=100
. utils/parse_options.sh

first=true
for upstream in ${upstreams}; do
    for t in ${tasks}; do
        case "${t}" in
            digit) label=utt2category ;;
            speaker) label=utt2spk ;;
            *) echo "$0: unknown task '${t}' (digit, speaker)" >&2; exit 1 ;;
        esac
        start=$(${first} && echo "${stage}" || echo $((stage > 5 ? stage : 5)))
        ./cls.sh --stage "${start}" --stop_stage "${stop_stage}" \
            --train_set train --valid_set dev --test_sets test \
            --upstream "${upstream}" --featurizer weighted_sum --train_config "${train_config}" \
            --label_table "${label}" --exp_tag "${t}_$(basename "${upstream}" | sed 's/\.[^.]*$//')_$(basename "${train_config}" .yaml)"
        first=false
    done
done
