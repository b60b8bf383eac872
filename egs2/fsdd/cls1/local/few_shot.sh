#!/usr/bin/env bash
# Low-resource digit classification: k labelled utterances per digit (k in --shots),
# several seeds (the k utterances and the model initialisation), a speaker the
# upstreams never heard as the test set (--heldout_speaker; ../ssl1 pre-trains without
# it), one frozen upstream per entry of --upstreams (weighted sum of its layers).
# Each run is an experiment exp/fewshot_<upstream>_k<k>_s<seed>, scored on
# data/test_<speaker>: its own table in RESULTS.md, with the mean and standard
# deviation over seeds (ssltk.bin.results_table).  Run from egs2/fsdd/cls1:
#   local/few_shot.sh [--upstreams "fbank ssltk_mini ../ssl1/exp/upstreams/pretrain2.pt"] [--shots "1 5"]
set -euo pipefail

upstreams="fbank ssltk_mini ssltk_mini_student"
shots="1 5 20"
seeds="0 1 2"
heldout_speaker=theo
dev_per_digit=10        # labelled dev utterances per digit for checkpoint selection
train_config=conf/tuning/train_few_shot.yaml
stage=1
. ./db.sh
. ./path.sh
. utils/parse_options.sh

held=data/heldout_${heldout_speaker}   # the split with that speaker held out
test_set=test_${heldout_speaker}
if [ "${stage}" -le 1 ]; then
    python -m ssltk.bin.prep_fsdd --fsdd "${FSDD}" --out "${held}" --heldout_speaker "${heldout_speaker}"
    rm -rf "data/${test_set}" && cp -r "${held}/test" "data/${test_set}"
    utils/subset_data_dir.sh --per-label utt2category "${dev_per_digit}" "${held}/dev" data/dev_few
    for k in ${shots}; do
        for seed in ${seeds}; do
            utils/subset_data_dir.sh --per-label utt2category "${k}" --seed "${seed}" \
                "${held}/train" "data/train_k${k}_s${seed}"
        done
    done
fi

for upstream in ${upstreams}; do
    tag=$(basename "${upstream}" | sed -e 's/\.[^.]*$//')
    for k in ${shots}; do
        for seed in ${seeds}; do
            ./cls.sh --stage 5 --stop_stage 7 --train_set "train_k${k}_s${seed}" --valid_set dev_few \
                --test_sets "${test_set}" --upstream "${upstream}" --featurizer weighted_sum \
                --train_config "${train_config}" --label_table utt2category \
                --exp_tag "fewshot_${tag}_k${k}_s${seed}" \
                --train_args "--override trainer.seed=${seed}"
        done
    done
done
