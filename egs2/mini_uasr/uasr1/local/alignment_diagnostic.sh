#!/usr/bin/env bash
# Diagnostic, uses labels: the same GAN on features made from the phone alignment
# (one-hot phone of each frame + Gaussian noise, ssltk.bin.alignment_feats). The GAN still
# has to find which phone each frame class is, from unpaired text alone; if it succeeds
# here and fails on learned features, the features are what is missing.
# Run after stages 1-3 of run.sh; options after these go to uasr.sh, e.g. --seeds 0.
set -euo pipefail
. ./path.sh

noise=0.3
for dset in train dev test; do
    out=dump/alignment/${dset}
    [ -f "${out}/feats_info.yaml" ] && continue
    python -m ssltk.bin.alignment_feats --data "data/${dset}" --out "${out}" --frame_rate 50 \
        --noise "${noise}" --labels dump/alignment/phones.lst
done
./uasr.sh --stage 7 --stop_stage 9 --expdir exp_alignment --feats_tag alignment --km_k 0 \
    --upstream "one-hot phones of phones.ctm + noise ${noise} (ssltk.bin.alignment_feats: uses labels, a diagnostic, not UASR)" \
    --remove_silence false --clip_dir exp/clip --results_file RESULTS_alignment.md --gan_config conf/train_gan.yaml --seeds "0 1 2" --clip_weights "0 1.0" \
    "$@"
