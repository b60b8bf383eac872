#!/usr/bin/env bash
# CLIP targets for the synthetic corpus: a small scene encoder (the stand-in for CLIP's image
# encoder) and a phone text encoder are trained contrastively on the TEXT-ONLY side
# (text_only/text.phn with its scenes), then frozen; each speech utterance's target is the
# scene encoder's embedding of its scene (the "paired image"), never of its transcript.
# With real CLIP, write image embeddings with ssltk.uasr.clip.write_targets instead and pass
# --clip_dir to uasr.sh (see ssltk/uasr/scenes.py).
set -euo pipefail

phones=         # phone inventory (stage 3: data/text_only_prep/phones.txt)
out=            # output dir: text_encoder.pt, <set>/targets.scp
sets=           # data sets (data/<set> with utt2scene)
corpus=downloads/corpus
. ./path.sh
. utils/parse_options.sh

[ -n "${phones}" ] && [ -n "${out}" ] && [ -n "${sets}" ] || { echo "Usage: $0 --phones F --out DIR --sets 'train dev'" >&2; exit 1; }
data=()
for s in ${sets}; do data+=("data/${s}"); done
mkdir -p "${out}/log"
python -m ssltk.bin.clip_targets --corpus "${corpus}" --phones "${phones}" --data "${data[@]}" \
    --out "${out}" > "${out}/log/clip_targets.log" 2>&1 \
    || { tail -n 5 "${out}/log/clip_targets.log" >&2; exit 1; }
tail -n 3 "${out}/log/clip_targets.log" >&2
