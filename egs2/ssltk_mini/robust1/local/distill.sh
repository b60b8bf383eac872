#!/usr/bin/env bash
# The students of the robustness study, each distilled from ssltk_mini on data/distill_train:
# plain DistilHuBERT, cross-distortion mapping setups 1 and 2, setup 1 with domain-adversarial
# training (conf/distill_<system>.yaml), at the depths of --layers.  exp/distill_<system>_l<N>/
# student.pt; a finished student is not trained again.
set -euo pipefail

teacher=ssltk_mini
systems="plain cdm1 cdm2 cdm1_dat"
layers="2"              # student depths of every system
extra_layers="4"        # depths for plain and cdm1 only (the seed's "different model sizes")
overrides=              # more config overrides (KEY=VALUE ...), e.g. "trainer.max_epochs=1"
. ./path.sh
. utils/parse_options.sh

# shellcheck source=utils/stage_lib.sh
. utils/stage_lib.sh  # log, die, trained
runs=()
for s in ${systems}; do for n in ${layers}; do runs+=("${s}:${n}"); done; done
for s in plain cdm1; do for n in ${extra_layers}; do runs+=("${s}:${n}"); done; done
for run in "${runs[@]}"; do
    system=${run%%:*} n=${run##*:}
    exp=exp/distill_${system}_l${n}
    [ -f "conf/distill_${system}.yaml" ] || die "no conf/distill_${system}.yaml"
    if trained "${exp}" && [ -f "${exp}/student.pt" ]; then
        log "${exp} is trained"
        continue
    fi
    log "distilling ${system} with ${n} layers -> ${exp} (log: ${exp}/log/distill.log)"
    mkdir -p "${exp}/log"
    # shellcheck disable=SC2086
    python -m ssltk.bin.distill --config "conf/distill_${system}.yaml" --teacher "${teacher}" \
        --train data/distill_train --valid data/dev --exp "${exp}" \
        --override "distill.student_layers=${n}" ${overrides} > "${exp}/log/distill.log" 2>&1 \
        || { tail -n 5 "${exp}/log/distill.log" >&2; die "distillation ${system} l${n} failed"; }
done
