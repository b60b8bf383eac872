#!/usr/bin/env bash
# Efficient use of a pre-trained upstream (seed 001, "Adapter & Prompt"): the frozen weighted
# sum, each ssltk.peft method and full fine-tuning, with the same head and budget
# (conf/tuning/train_efficient.yaml), on
#   digit    FSDD digits (data/train -> data/test),
#   speaker  FSDD speaker identification (same split),
#   fewshot  digits from k utterances per digit, tested on a speaker the upstream never
#            heard (the split of local/few_shot.sh),
# several seeds and learning rates.  Each run is exp_efficient/eff_<task>_<method>_lr<lr>_s<seed>;
# RESULTS_efficient.md has one table per test set: mean ± std over seeds, trainable
# parameters, median training steps per second and peak memory.  Run from egs2/fsdd/cls1:
#   local/efficient.sh [--methods "frozen houlsby lora"] [--lrs "1e-4 1e-3 1e-2"] [--seeds "0 1 2"]
set -euo pipefail

upstream=ssltk_mini
methods="frozen houlsby adapter_bias bitfit lora prefix prompt finetune"
tasks="digit speaker fewshot"
seeds="0 1 2"
lrs="1e-3"
shots=5                 # fewshot: labelled utterances per digit
train_config=conf/tuning/train_efficient.yaml
expdir=exp_efficient
overrides=              # more config overrides for every run, e.g. "trainer.max_steps=3"
. utils/parse_options.sh

# The configuration of each method (ssltk.peft.config; the seed's where its code states it).
method_overrides() {
    case "$1" in
        frozen) ;;
        houlsby) echo "frontend.peft.houlsby.bottleneck=32" ;;
        adapter_bias) echo "frontend.peft.adapter_bias.placement=[ffn]" ;;
        bitfit) echo "frontend.peft.bitfit=true" ;;
        lora) echo "frontend.peft.lora.rank=8" ;;
        prefix) echo "frontend.peft.prefix.length=5" ;;
        prompt) echo "frontend.peft.prompt.length=10" ;;
        finetune) echo "frontend.finetune_upstream=true" ;;
        *) echo "$0: unknown method '$1' (frozen houlsby adapter_bias bitfit lora prefix prompt finetune)" >&2
           return 1 ;;
    esac
}
for m in ${methods}; do method_overrides "${m}" > /dev/null; done

if [[ " ${tasks} " == *" digit "* || " ${tasks} " == *" speaker "* ]] && [ ! -f data/test/wav.scp ]; then
    ./cls.sh --stage 1 --stop_stage 2 --train_set train --valid_set dev --test_sets test \
        --train_config "${train_config}"
fi
if [[ " ${tasks} " == *" fewshot "* ]]; then
    local/few_shot.sh --stage 1 --shots "${shots}" --seeds "${seeds}" --upstreams ""
fi

for t in ${tasks}; do
    for m in ${methods}; do
        for lr in ${lrs}; do
            for seed in ${seeds}; do
                case "${t}" in
                    digit) sets=(--train_set train --valid_set dev --test_sets test --label_table utt2category) ;;
                    speaker) sets=(--train_set train --valid_set dev --test_sets test --label_table utt2spk) ;;
                    fewshot) sets=(--train_set "train_k${shots}_s${seed}" --valid_set dev_few
                                   --test_sets test_theo --label_table utt2category) ;;
                    *) echo "$0: unknown task '${t}' (digit speaker fewshot)" >&2; exit 1 ;;
                esac
                ./cls.sh --stage 5 --stop_stage 7 "${sets[@]}" --upstream "${upstream}" \
                    --featurizer weighted_sum --train_config "${train_config}" \
                    --expdir "${expdir}" --results_file RESULTS_efficient.md \
                    --exp_tag "eff_${t}_${m}_lr${lr}_s${seed}" \
                    --train_args "--override trainer.seed=${seed} trainer.optim.lr=${lr} $(method_overrides "${m}") ${overrides}"
            done
        done
    done
done
