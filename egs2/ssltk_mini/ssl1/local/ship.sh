#!/usr/bin/env bash
# After ssl.sh: ship the reference upstream and its student.
#   1. layer probe: per hidden state of each model, k-means (k=--probe_k, fitted on frames of
#      --probe_utts evenly spaced utterances of data/train) labels data/dev, scored against its
#      phone alignments (PNMI); the best layer
#      is the one UASR and other single-layer uses take (a probe on this corpus's dev set,
#      not on any evaluation set);
#   2. fp16 export to --weights_dir with reference hidden states to --reference_dir (the
#      test that pins the shipped files);
#   3. the model card, --weights_dir/README.md (local/model_card.py).
set -euo pipefail

expdir=exp
weights_dir=../../../ssltk/upstream/weights
reference_dir=../../../test/data
probe_k=100
probe_utts=1000
probe_max_frames=100000
command="./run.sh"   # the command the card names as the reproduction
# shellcheck source=egs2/TEMPLATE/path.sh
. ./path.sh
# shellcheck source=egs2/TEMPLATE/cmd.sh
. ./cmd.sh
# shellcheck source=utils/parse_options.sh
. utils/parse_options.sh

probe_train=data/probe_train_${probe_utts}
[ -f "${probe_train}/wav.scp" ] || utils/subset_data_dir.sh --num "${probe_utts}" data/train "${probe_train}"
declare -A models=([ssltk_mini]=${expdir}/upstreams/pretrain2.pt [ssltk_mini_student]=${expdir}/upstreams/student.pt)
for name in ssltk_mini ssltk_mini_student; do
    model=${models[${name}]}
    [ -f "${model}" ] || { echo "$0: ${model} missing: run ssl.sh first" >&2; exit 1; }
    layers=$(python -c "import sys; from ssltk import hub; print(hub.load(sys.argv[1]).num_layers)" "${model}")
    for layer in $(seq 0 "${layers}"); do
        probe=${expdir}/probe/${name}_l${layer}
        if [ -f "${probe}/dev/km_score.json" ] && [ "${probe}/dev/km_score.json" -nt "${model}" ]; then
            continue
        fi
        mkdir -p "${probe}/log"
        echo "$0: probing ${name} layer ${layer} -> ${probe}" >&2
        ${train_cmd} "${probe}/log/probe.log" \
            python -m ssltk.bin.kmeans fit --data "${probe_train}" --upstream "${model}" --layer "${layer}" \
                --k "${probe_k}" --max-frames "${probe_max_frames}" --seed 0 --out "${probe}/codebook.pt" \
            "&&" python -m ssltk.bin.kmeans label --codebook "${probe}/codebook.pt" --data data/dev \
                --out "${probe}/dev" \
            "&&" python -m ssltk.bin.kmeans score --data data/dev --labels "${probe}/dev" \
            || { tail -n 5 "${probe}/log/probe.log" >&2; exit 1; }
    done
    python -m ssltk.bin.export_upstream "${model}" "${weights_dir}/${name}.pt" --dtype float16 \
        --no-pretraining-heads --reference "${reference_dir}/${name}_reference.npz"
done
python local/model_card.py --expdir "${expdir}" --weights_dir "${weights_dir}" \
    --command "${command}" --probe "k-means with k = ${probe_k}, fitted on at most ${probe_max_frames} frames of ${probe_utts} evenly spaced training utterances" \
    --out "${weights_dir}/README.md"
echo "$0: wrote ${weights_dir}/README.md" >&2
