#!/usr/bin/env bash
# The compression study's downstream tasks for one upstream (compress.sh stage 4), each with
# every seed: digit (FSDD utt2category) and speaker (FSDD utt2spk) classification
# (conf/cls.yaml), phone recognition on the synthetic corpus (conf/phones.yaml).  Runs are
# <expdir>/<task>_<tag>_s<seed>; a finished run is not trained again.
set -euo pipefail

upstream=
precision=float32   # what the frozen upstream computes in (frontend.precision)
tag=
seeds="0 1 2"
expdir=exp
tasks="digit speaker phones"   # space- or comma-separated
. utils/parse_options.sh
[ -n "${upstream}" ] && [ -n "${tag}" ] || { echo "$0: --upstream and --tag are required" >&2; exit 1; }

for seed in ${seeds}; do
    for task in ${tasks//,/ }; do
        exp_tag=${task}_${tag}_s${seed}
        [ -f "${expdir}/${exp_tag}/decode_test/result.json" ] || [ -f "${expdir}/${exp_tag}/decode_phn_test/result.json" ] \
            && continue
        common=(--upstream "${upstream}" --featurizer weighted_sum --expdir "${expdir}" --exp_tag "${exp_tag}"
                --results_file "${expdir}/RESULTS_runs.md"
                --train_args "--override trainer.seed=${seed} frontend.precision=${precision}")
        case "${task}" in
            digit|speaker)
                label=$([ "${task}" = digit ] && echo utt2category || echo utt2spk)
                ./cls.sh --stage 5 --stop_stage 7 --train_set train --valid_set dev --test_sets test \
                    --label_table "${label}" --train_config conf/cls.yaml "${common[@]}" ;;
            phones)
                ./asr.sh --stage 3 --stop_stage 7 --train_set phn_train --valid_set phn_dev --test_sets phn_test \
                    --text_table text.phn --token_type phone --train_config conf/phones.yaml "${common[@]}" ;;
            *) echo "$0: unknown task '${task}' (digit speaker phones)" >&2; exit 1 ;;
        esac
    done
done
