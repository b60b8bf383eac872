#!/usr/bin/env bash
# The robustness study's downstream tasks for one upstream (compress.sh stage 4), each with
# every seed, trained on clean audio and tested clean and under every seen and unseen
# distortion of data/distort.yaml: digit classification (FSDD; conf/cls.yaml) and phone
# recognition (synthetic speech; conf/phones.yaml).  Runs are <expdir>/<task>_<tag>_s<seed>;
# a scored run is not trained again.
set -euo pipefail

upstream=
precision=float32
tag=
seeds="0 1 2"
expdir=exp
tasks="digit phones"   # space- or comma-separated
. ./path.sh
. utils/parse_options.sh
[ -n "${upstream}" ] && [ -n "${tag}" ] || { echo "$0: --upstream and --tag are required" >&2; exit 1; }

conditions=$(local/conditions.sh data/distort.yaml)
for seed in ${seeds}; do
    for task in ${tasks//,/ }; do
        exp_tag=${task}_${tag}_s${seed}
        common=(--upstream "${upstream}" --featurizer weighted_sum --expdir "${expdir}" --exp_tag "${exp_tag}"
                --results_file "${expdir}/RESULTS_runs.md"
                --train_args "--override trainer.seed=${seed} frontend.precision=${precision}")
        case "${task}" in
            digit)
                sets="test" && for c in ${conditions}; do sets+=" test_${c}"; done
                [ -f "${expdir}/${exp_tag}/decode_test_${conditions##* }/result.json" ] && continue
                ./cls.sh --stage 5 --stop_stage 7 --train_set train --valid_set dev --test_sets "${sets}" \
                    --label_table utt2category --train_config conf/cls.yaml "${common[@]}" ;;
            phones)
                sets="phn_test" && for c in ${conditions}; do sets+=" phn_test_${c}"; done
                [ -f "${expdir}/${exp_tag}/decode_phn_test_${conditions##* }/result.json" ] && continue
                ./asr.sh --stage 3 --stop_stage 7 --train_set phn_train --valid_set phn_dev --test_sets "${sets}" \
                    --text_table text.phn --token_type phone --train_config conf/phones.yaml "${common[@]}" ;;
            *) echo "$0: unknown task '${task}' (digit phones)" >&2; exit 1 ;;
        esac
    done
done
