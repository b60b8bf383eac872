#!/usr/bin/env bash
# Unsupervised phone recognition (wav2vec-U 2.0 style GAN) on the synthetic unpaired corpus,
# with and without the CLIP loss (targets: a small frozen scene encoder trained here on the
# text-only side, local/clip_targets.sh), three seeds each.  CPU-sized (conf/train_gan.yaml).
#
# --feats_upstream ssltk_mini (default): hidden state 1 (ssltk_mini_layer) of ssltk's shipped upstream,
#     the layer whose k-means units have the highest PNMI in the layer probe of its model
#     card (ssltk/upstream/weights/README.md: measured on the pre-training corpus's dev set,
#     so no label of this corpus chooses it).
# --feats_upstream melhubert: layer 3 of the MelHuBERT that egs2/mini_synth/ssl1 pre-trains
#     on this corpus's audio; run that recipe first (cd ../../mini_synth/ssl1 && ./run.sh),
#     it writes ${melhubert}.
# --feats_upstream fbank, or any hub name or upstream checkpoint: those features instead.
# Other options after these defaults go to uasr.sh and override them (uasr.sh --help), e.g.
#   ./run.sh --stage 7 --seeds 0 --clip_weights 0
#   ./run.sh --feats_upstream fbank --local_data_opts "--num_utts 40" --seeds 0 --km_k 8 \
#       --train_args "--override trainer.max_epochs=2 data.updates_per_epoch=4"   # seconds
set -euo pipefail

melhubert=../../mini_synth/ssl1/exp/pretrain1/upstream.pt
ssltk_mini_layer=1
feats_upstream=ssltk_mini
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --feats_upstream)
            [ $# -ge 2 ] || { echo "$0: --feats_upstream needs a value (melhubert, fbank, ...)" >&2; exit 1; }
            feats_upstream=$2; shift 2 ;;
        --feats_upstream=*) feats_upstream=${1#*=}; shift ;;
        *) args+=("$1"); shift ;;
    esac
done

if [ "${feats_upstream}" = melhubert ]; then
    if [ ! -f "${melhubert}" ]; then
        echo "$0: error: --feats_upstream melhubert needs ${melhubert} (the MelHuBERT of" \
            "egs2/mini_synth/ssl1): make it with (cd ../../mini_synth/ssl1 && ./run.sh)," \
            "or use other features, e.g. --feats_upstream fbank" >&2
        exit 1
    fi
    features=(--upstream "${melhubert}" --layer 3 --feats_tag melhubert_l3)
elif [ "${feats_upstream}" = ssltk_mini ]; then
    features=(--upstream ssltk_mini --layer "${ssltk_mini_layer}" --feats_tag "ssltk_mini_l${ssltk_mini_layer}")
else
    features=(--upstream "${feats_upstream}")
fi

./uasr.sh \
    --train_set train --valid_set dev --test_sets test --text_set text_only \
    "${features[@]}" --km_k 64 --min_phone_count 1 \
    --gan_config conf/train_gan.yaml --seeds "0 1 2" --clip_weights "0 1.0" \
    "${args[@]}"
