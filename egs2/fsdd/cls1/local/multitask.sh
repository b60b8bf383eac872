#!/usr/bin/env bash
# Multi-task fine-tuning (seed 002): fine-tune one upstream on FSDD digits and speakers at
# once (conf/tuning/train_multitask.yaml, python -m ssltk.bin.multitask), then use the
# result frozen, like the plain pre-trained upstream, on each of those tasks and on a task
# it was not fine-tuned on: intent classification on the synthetic SLURP-style corpus
# (../../slurp/ic1, its demo config).  Tables: RESULTS_multitask.md here (digit, speaker:
# local/efficient.sh's frozen head, several seeds) and ../../slurp/ic1/RESULTS.md.
#   local/multitask.sh [--upstream ssltk_mini] [--seeds "0 1 2"]
set -euo pipefail

upstream=ssltk_mini
seeds="0 1 2"
config=conf/tuning/train_multitask.yaml
exp=exp_multitask/mtl_digit_speaker
heldout_config=conf/tuning/train_debug.yaml   # of ../../slurp/ic1
heldout=true            # false: skip the held-out task
overrides=              # more config overrides for every run, e.g. "trainer.max_steps=3"
. utils/parse_options.sh
. ./path.sh

if [ ! -f data/test/wav.scp ]; then
    ./cls.sh --stage 1 --stop_stage 2 --train_set train --valid_set dev --test_sets test \
        --train_config conf/tuning/train_efficient.yaml
fi
mkdir -p "${exp}/log"
# shellcheck disable=SC2086
python -m ssltk.bin.multitask --config "${config}" --exp "${exp}" \
    --override frontend.upstream="${upstream}" ${overrides:+${overrides}} 2>&1 | tee "${exp}/log/multitask.log"
# a file name that says what it is (experiment names of the evaluations come from it)
tuned=exp_multitask/$(basename "${upstream}" | sed 's/\.[^.]*$//')_multitask.pt
cp "${exp}/upstream.pt" "${tuned}"

# both upstreams frozen, the same heads: digit and speaker (3 seeds each)
for up in "${upstream}" "${tuned}"; do
    tag=$([ "${up}" = "${tuned}" ] && echo multitask || echo pretrained)
    for t in digit speaker; do
        label=$([ "${t}" = digit ] && echo utt2category || echo utt2spk)
        for seed in ${seeds}; do
            ./cls.sh --stage 5 --stop_stage 7 --train_set train --valid_set dev --test_sets test \
                --label_table "${label}" --upstream "${up}" --featurizer weighted_sum \
                --train_config conf/tuning/train_efficient.yaml --expdir exp_multitask \
                --results_file RESULTS_multitask.md --exp_tag "mt_${t}_${tag}_s${seed}" \
                --train_args "--override trainer.seed=${seed} ${overrides}"
        done
    done
done
# the held-out task
if ${heldout}; then
    (cd ../../slurp/ic1 && ./run.sh --upstreams "${upstream} ../../fsdd/cls1/${tuned}" \
        --train_config "${heldout_config}")
fi
