#!/usr/bin/env bash
# MelHuBERT pre-training in two iterations (k-means on MFCC, then on a layer of the
# first model) and DistilHuBERT distillation on the synthetic unlabelled corpus
# (espeak-ng speech; its phone alignments give the PNMI of the k-means labels).
# Options after these defaults go to ssl.sh and override them (ssl.sh --help), e.g.
#   ./run.sh --stage 3 --stop_stage 4
#   ./run.sh --local_data_opts "--num_utts 40" --km1_k 8 --km2_k 8 --km2_layer 1 \
#       --pretrain1_config conf/tuning/pretrain_melhubert_debug.yaml \
#       --pretrain2_config conf/tuning/pretrain_melhubert_debug.yaml \
#       --distill_config conf/tuning/distill_debug.yaml          # the debug set (seconds)
set -euo pipefail

./ssl.sh \
    --train_set train --valid_set dev \
    --local_data_opts "--num_utts 1000" \
    --km1_upstream mfcc --km1_upstream_opts "deltas=true" --km1_k 50 --km1_max_frames 100000 \
    --pretrain1_config conf/pretrain.yaml \
    --km2_layer 3 --km2_k 100 --km2_max_frames 100000 \
    --pretrain2_config conf/pretrain.yaml \
    --distill_config conf/distill.yaml \
    "$@"
