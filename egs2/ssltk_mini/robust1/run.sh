#!/usr/bin/env bash
# Distortion robustness of distilled upstreams (seed 001, "Robust"; Huang et al., Interspeech
# 2022): the teacher (ssltk_mini), plain DistilHuBERT students and students distilled with
# cross-distortion mapping (setups 1 and 2) and domain-adversarial training, at 2 layers (and
# 4 for plain and setup 1), each scored on digits (FSDD) and phones (synthetic speech) clean
# and under seen and unseen distortions (real noise, reverberation, babble, telephone), 3 seeds.
#   ./run.sh [--stage N] [--data_args ".."] [--distill_args ".."] [options of compress.sh]
# Stages: 1 data (local/data.sh), 2 students (local/distill.sh), 3-6 compress.sh's stages 2-5
# (record the upstreams, cost, downstream probes, RESULTS.md).  --data_args / --distill_args
# are split on spaces: give multi-word values by running local/data.sh / local/distill.sh
# yourself, then ./run.sh --stage 3.
set -euo pipefail

stage=1
data_args=      # options for local/data.sh, e.g. "--num_utts 200"
distill_args=   # options for local/distill.sh, e.g. "--layers 2 --extra_layers ''"
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --stage) stage=$2; shift 2 ;;
        --data_args) data_args=$2; shift 2 ;;
        --distill_args) distill_args=$2; shift 2 ;;
        *) args+=("$1"); shift ;;
    esac
done

# shellcheck disable=SC2086
if [ "${stage}" -le 1 ]; then local/data.sh ${data_args}; fi
# shellcheck disable=SC2086
if [ "${stage}" -le 2 ]; then local/distill.sh ${distill_args}; fi
specs="none"
for exp in exp/distill_*_l*; do
    [ -f "${exp}/student.pt" ] && specs+=" upstream:${exp#exp/distill_}=${exp}/student.pt"
done
conditions=$(local/conditions.sh data/distort.yaml)
tasks="digit=test:acc" && for c in ${conditions}; do tasks+=" digit=test_${c}:acc"; done
tasks+=" phones=phn_test:per" && for c in ${conditions}; do tasks+=" phones=phn_test_${c}:per"; done
./compress.sh --stage "$((stage > 3 ? stage - 1 : 2))" --source_upstream ssltk_mini --specs "${specs}" --tasks "${tasks}" \
    --results_notes local/results_notes.md "${args[@]}"
