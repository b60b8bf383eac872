#!/usr/bin/env bash
# wav2vec-U 2.0 with the CLIP loss on SpokenCOCO (the JSALT 2022 setting): speech of half
# the train images, captions of the other half as text, CLIP image embeddings as targets.
#   ./run.sh --upstream /path/to/wav2vec_vox_new.pt --layer 14 --ngpu 1 \
#       --clip_dir exp/clip      # holding text_encoder.pt and <set>/targets.scp, or:
#   local/clip_targets.sh --images coco_clip_image_embeddings.npz --text_encoder enc.pt \
#       --phones data/text_only_prep/phones.txt --out exp/clip --sets "train val"
set -euo pipefail

./uasr.sh \
    --train_set train --valid_set val --test_sets val --text_set text_only \
    --km_k 64 --min_phone_count 100 --language en-us \
    --gan_config conf/train_gan.yaml --seeds "0 1 2" --clip_weights "0 1.0" \
    "$@"
