#!/usr/bin/env bash
# The same AN4 data through ESPnet itself (the installed espnet2, run through ssltk's
# launcher so that configs may say `frontend: ssltk`), in the stages of ESPnet's asr.sh:
#   1. speed-perturbed copies of train_nodev (0.9, 1.1; audio written out), ESPnet's
#      character token list (espnet2.bin.tokenize_text)
#   2. statistics of the training features and the shape files (asr_train --collect_stats)
#   3. training (espnet2.bin.asr_train, resumable), its wall time in EXP/train_seconds once done
#   4. decoding each test set (espnet2.bin.asr_inference, conf/espnet/decode_asr.yaml) with
#      the average of the best checkpoints (valid.acc.ave.pth)
#   5. scoring with ssltk's scorer (WER, CER), RESULTS.md rewritten with the ESPnet rows
# Needs data/ from ./run.sh's stage 1.  Examples:
#   local/espnet.sh                                                 # stock FBANK frontend
#   local/espnet.sh --asr_config conf/espnet/train_asr_ssltk_cpu.yaml --upstream /path/upstream.pt
#   local/espnet.sh --asr_config conf/espnet/train_asr_transformer.yaml --ngpu 1   # GPU-sized
set -euo pipefail

asr_config=conf/espnet/train_asr_transformer_cpu.yaml
inference_config=conf/espnet/decode_asr.yaml
upstream=               # frontend: ssltk configs: the upstream (ssltk.hub name or checkpoint)
train_set=train_nodev
valid_set=train_dev
test_sets="train_dev test"
speed_perturb_factors="0.9 1.0 1.1"
train_args=             # more ESPnet training options, e.g. "--max_epoch 10"
ngpu=0
nj=2                    # decoding jobs per test set
tag=                    # experiment name (default: from the config and upstream)
results_reference=espnet_train_asr_transformer_cpu   # RESULTS.md: rows' CER relative to this one
results_notes=local/results_notes.md                  # RESULTS.md: appended after the tables
stage=1
stop_stage=100
help_message=$(cat <<EOF
Usage: $0 [options]   (stages and examples: the header of $0)
Options (default):
  --asr_config (${asr_config}) --inference_config (${inference_config})
  --upstream (${upstream}), for 'frontend: ssltk' configs  --tag (${tag:-from the config})
  --train_set (${train_set}) --valid_set (${valid_set}) --test_sets (${test_sets})
  --speed_perturb_factors (${speed_perturb_factors}) --train_args (${train_args})
  --ngpu (${ngpu}) --nj (${nj}) --stage (${stage}) --stop_stage (${stop_stage})
  --results_reference (${results_reference}) --results_notes (${results_notes})
EOF
)
# shellcheck source=egs2/TEMPLATE/path.sh
. ./path.sh
# shellcheck source=egs2/TEMPLATE/cmd.sh
. ./cmd.sh
# shellcheck source=utils/parse_options.sh
. utils/parse_options.sh
# shellcheck source=utils/stage_lib.sh
. utils/stage_lib.sh  # log, die, fresh

[ -f "${asr_config}" ] || die "--asr_config ${asr_config}: no such file"
[ -d "data/${train_set}" ] || die "data/${train_set} missing: run ./run.sh --stop_stage 1 first"
python=(python -m ssltk.espnet.run)   # ESPnet entry points with `frontend: ssltk` known
dump=dump/espnet
token_list=${dump}/tokens/char/tokens.txt
perturbed=()   # the factors other than 1
for factor in ${speed_perturb_factors}; do
    [ "${factor}" = 1.0 ] || [ "${factor}" = 1 ] || perturbed+=("${factor}")
done
sp_set=${train_set}${perturbed[*]:+_sp}
train_dir=$([ "${sp_set}" = "${train_set}" ] && echo "data/${train_set}" || echo "${dump}/${sp_set}")
if [ -z "${tag}" ]; then
    tag=espnet_$(basename "${asr_config}" .yaml)
    [ -n "${upstream}" ] && tag+=_$(basename "${upstream}" .pt)
fi
exp=exp/${tag}
frontend_args=()
if grep -q '^frontend: *ssltk' "${asr_config}"; then
    [ -n "${upstream}" ] || die "${asr_config} says 'frontend: ssltk': give --upstream"
    frontend_args=(--frontend_conf "upstream=${upstream}")
    # a 10 ms upstream takes the 4x subsampling of the FBANK set-up
    case "${upstream}" in fbank|mfcc) frontend_args+=(--encoder_conf input_layer=conv2d) ;; esac
elif [ -n "${upstream}" ]; then
    die "--upstream ${upstream}: ${asr_config} does not use 'frontend: ssltk'"
fi
stats=${exp}/stats

if [ "${stage}" -le 1 ] && [ "${stop_stage}" -ge 1 ]; then
    log "Stage 1: ${train_dir} (speed factors ${speed_perturb_factors}), ${token_list}"
    parts=("data/${train_set}")
    for factor in "${perturbed[@]}"; do
        part=${dump}/${train_set}_sp${factor}
        fresh "${part}/wav.scp" "data/${train_set}/wav.scp" ||
            python -m ssltk.bin.datadir speed-perturb "${factor}" "data/${train_set}" "${part}"
        parts+=("${part}")
    done
    [ "${sp_set}" = "${train_set}" ] || python -m ssltk.bin.datadir combine "${dump}/${sp_set}" "${parts[@]}"
    mkdir -p "$(dirname "${token_list}")"
    "${python[@]}" espnet2.bin.tokenize_text --token_type char --input "data/${train_set}/text" \
        --output "${token_list}" --field 2- --cleaner none --write_vocabulary true \
        --add_symbol "<blank>:0" --add_symbol "<unk>:1" --add_symbol "<sos/eos>:-1"
fi
data_args() {  # --<split>_data_path_and_name_and_type pairs of a data dir
    echo "--$1_data_path_and_name_and_type $2/wav.scp,speech,sound"
    echo "--$1_data_path_and_name_and_type $2/text,text,text"
}
common=(--config "${asr_config}" --token_type char --token_list "${token_list}" --frontend_conf fs=16k
        --use_preprocessor true "${frontend_args[@]}")

if [ "${stage}" -le 2 ] && [ "${stop_stage}" -ge 2 ] && fresh "${stats}/train/feats_stats.npz" "${train_dir}/wav.scp"; then
    log "Stage 2: ${stats} is up to date"
elif [ "${stage}" -le 2 ] && [ "${stop_stage}" -ge 2 ]; then
    log "Stage 2: feature statistics and shapes -> ${stats}"
    mkdir -p "${stats}"
    # shellcheck disable=SC2046  # data_args gives option/value pairs
    ${train_cmd} "${stats}/collect_stats.log" "${python[@]}" espnet2.bin.asr_train "${common[@]}" \
        --collect_stats true --normalize none --ngpu 0 --num_workers 0 --output_dir "${stats}" \
        $(data_args train "${train_dir}") --train_shape_file "${train_dir}/wav.scp" \
        $(data_args valid "data/${valid_set}") --valid_shape_file "data/${valid_set}/wav.scp" \
        || { tail -n 5 "${stats}/collect_stats.log" >&2; die "collecting statistics failed (${stats}/collect_stats.log)"; }
fi

if [ "${stage}" -le 3 ] && [ "${stop_stage}" -ge 3 ] && [ -f "${exp}/train_seconds" ]; then
    log "Stage 3: ${exp} is trained (${exp}/train_seconds); remove that file to train further"
elif [ "${stage}" -le 3 ] && [ "${stop_stage}" -ge 3 ]; then
    log "Stage 3: training -> ${exp} (log: ${exp}/train.log)"
    normalize=()
    grep -q '^normalize: *global_mvn' "${asr_config}" && normalize=(--normalize_conf "stats_file=${stats}/train/feats_stats.npz")
    start=$(date +%s)
    # shellcheck disable=SC2046,SC2086
    ${cuda_cmd} --gpu "${ngpu}" "${exp}/train.log" "${python[@]}" espnet2.bin.asr_train "${common[@]}" \
        "${normalize[@]}" --ngpu "${ngpu}" --output_dir "${exp}" --resume true \
        $(data_args train "${train_dir}") $(data_args valid "data/${valid_set}") \
        --train_shape_file "${stats}/train/speech_shape" --train_shape_file "${stats}/train/text_shape" \
        --valid_shape_file "${stats}/valid/speech_shape" --valid_shape_file "${stats}/valid/text_shape" \
        --fold_length 80000 --fold_length 150 ${train_args} \
        || { tail -n 5 "${exp}/train.log" >&2; die "training failed (${exp}/train.log)"; }
    # wall time of the training run (a run resumed after a crash counts from its restart)
    echo $(($(date +%s) - start)) > "${exp}/train_seconds"
fi

if [ "${stage}" -le 4 ] && [ "${stop_stage}" -ge 4 ]; then
    for dset in ${test_sets}; do
        decode=${exp}/decode_${dset}
        log "Stage 4: decoding ${dset} -> ${decode}"
        mkdir -p "${decode}/log"
        keys=()
        for n in $(seq "${nj}"); do keys+=("${decode}/log/keys.${n}.scp"); done
        python -m ssltk.bin.datadir split-scp "data/${dset}/wav.scp" "${keys[@]}"
        ${decode_cmd} JOB=1:"${nj}" "${decode}/log/decode.JOB.log" "${python[@]}" espnet2.bin.asr_inference \
            --config "${inference_config}" --ngpu 0 --batch_size 1 \
            --asr_train_config "${exp}/config.yaml" --asr_model_file "${exp}/valid.acc.ave.pth" \
            --data_path_and_name_and_type "data/${dset}/wav.scp,speech,sound" \
            --key_file "${decode}/log/keys.JOB.scp" --output_dir "${decode}/log/output.JOB" \
            || { tail -n 5 "${decode}/log/decode.1.log" >&2; die "decoding ${dset} failed (${decode}/log)"; }
        cat "${decode}"/log/output.*/1best_recog/text | sort > "${decode}/hyp"
    done
fi

if [ "${stage}" -le 5 ] && [ "${stop_stage}" -ge 5 ]; then
    for dset in ${test_sets}; do
        log "Stage 5: scoring ${dset}"
        python -m ssltk.bin.score --task asr --ref "data/${dset}/text" --hyp "${exp}/decode_${dset}/hyp" \
            --out "${exp}/decode_${dset}/result.txt"
    done
    python -m ssltk.bin.results_table --expdir exp --out RESULTS.md \
        ${results_reference:+--reference "${results_reference}"} ${results_notes:+--notes "${results_notes}"}
    log "Results: $(pwd)/RESULTS.md"
fi
