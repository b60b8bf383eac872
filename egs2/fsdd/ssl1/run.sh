#!/usr/bin/env bash
# MelHuBERT pre-training in two iterations (k-means on MFCC, then on a layer of the
# first model) and DistilHuBERT distillation on the FSDD training audio (real speech,
# labels unused; no phone alignment, so the k-means PNMI is not scored).
# CPU-sized: conf/pretrain.yaml pre-trains in about 30 minutes on 2 cores (see its header).
# Options after these defaults go to ssl.sh and override them (ssl.sh --help), e.g.
#   ./run.sh --km1_k 8 --km2_k 8 --km2_layer 1 \
#       --pretrain1_config conf/tuning/pretrain_melhubert_debug.yaml \
#       --pretrain2_config conf/tuning/pretrain_melhubert_debug.yaml \
#       --distill_config conf/tuning/distill_debug.yaml          # the debug set (seconds)
set -euo pipefail

./ssl.sh \
    --train_set train --valid_set dev \
    --km1_upstream mfcc --km1_upstream_opts "deltas=true" --km1_k 50 --km1_max_frames 100000 \
    --pretrain1_config conf/pretrain.yaml \
    --km2_layer 3 --km2_k 100 --km2_max_frames 100000 \
    --pretrain2_config conf/pretrain.yaml \
    --distill_config conf/distill.yaml \
    "$@"
