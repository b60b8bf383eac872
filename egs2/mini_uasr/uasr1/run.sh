#!/usr/bin/env bash
# Unsupervised phone recognition (wav2vec-U 2.0 style GAN) on the synthetic unpaired corpus,
# with and without the CLIP loss (targets: a small frozen scene encoder trained here on the
# text-only side, local/clip_targets.sh), three seeds each.  CPU-sized (conf/train_gan.yaml).
# Features: layer 3 of the MelHuBERT that egs2/mini_synth/ssl1 pre-trains on this corpus's
# audio when it is there (run that recipe first), else fbank.
# Options after these defaults go to uasr.sh and override them (uasr.sh --help), e.g.
#   ./run.sh --stage 7 --seeds 0 --clip_weights 0
#   ./run.sh --local_data_opts "--num_utts 40" --seeds 0 --km_k 8 \
#       --train_args "--override trainer.max_epochs=2 data.updates_per_epoch=4"   # seconds
set -euo pipefail

ssl_upstream=../../mini_synth/ssl1/exp/pretrain1/upstream.pt
if [ -f "${ssl_upstream}" ]; then
    features=(--upstream "${ssl_upstream}" --layer 3 --feats_tag melhubert_l3)
else
    features=(--upstream fbank)
fi

./uasr.sh \
    --train_set train --valid_set dev --test_sets test --text_set text_only \
    "${features[@]}" --km_k 64 --min_phone_count 1 \
    --gan_config conf/train_gan.yaml --seeds "0 1 2" --clip_weights "0 1.0" \
    "$@"
