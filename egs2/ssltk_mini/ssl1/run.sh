#!/usr/bin/env bash
# ssltk's reference upstream (hub names ssltk_mini and ssltk_mini_student): MelHuBERT
# pre-trained in two iterations (k-means on MFCC, then on layer 4 of the first model) and a
# DistilHuBERT student, on all the training speech the project reaches offline (local/data.sh:
# about 5.5 h of synthetic multi-language speech, FSDD and AN4 training audio); then
# local/ship.sh probes every layer, exports both models in float16 to ssltk/upstream/weights/
# and writes their model card there (README.md: data, cost, training, budget).
# Budget on 2 CPU cores (both threads to the one running job): about 2 hours (see the card).
#   ./run.sh                       the whole run; a rerun skips finished steps
#   ./run.sh --ship false          pre-training only (ssl.sh); nothing in ssltk/ is touched
#   ./run.sh --stage 6             options other than --ship go to ssl.sh (ssl.sh --help)
set -euo pipefail
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}

ship=true
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --ship)
            [ $# -ge 2 ] || { echo "$0: --ship needs true or false" >&2; exit 1; }
            ship=$2; shift 2 ;;
        *) args+=("$1"); shift ;;
    esac
done
case "${ship}" in true|false) ;; *) echo "$0: --ship must be true or false, not '${ship}'" >&2; exit 1 ;; esac

./ssl.sh \
    --train_set train --valid_set dev \
    --km1_upstream mfcc --km1_upstream_opts "deltas=true" --km1_k 100 --km1_max_frames 200000 \
    --pretrain1_config conf/pretrain.yaml \
    --km2_layer 4 --km2_k 200 --km2_max_frames 200000 \
    --pretrain2_config conf/pretrain.yaml --pretrain2_args "--override trainer.max_epochs=6" \
    --distill_config conf/distill.yaml \
    "${args[@]}"
if "${ship}"; then
    local/ship.sh
fi
