#!/usr/bin/env bash
# wav2vec-U 2.0 on LibriSpeech (Liu et al. 2022): train-clean-100 speech, LibriSpeech LM
# text, fairseq's w2vu2 settings (conf/train_gan.yaml, GPU scale), wav2vec 2.0 features.
# Features: pass a pre-trained checkpoint (fairseq, Hugging Face or s3prl), e.g. wav2vec 2.0
# large LV-60 layer 14 as in the paper:
#   ./run.sh --upstream /path/to/wav2vec_vox_new.pt --layer 14 --ngpu 1
set -euo pipefail

./uasr.sh \
    --train_set train_clean_100 --valid_set dev_clean --test_sets test_clean --text_set text_only \
    --km_k 64 --min_phone_count 1000 --language en-us \
    --gan_config conf/train_gan.yaml --seeds "0 1 2" --clip_weights 0 \
    "$@"
