#!/usr/bin/env bash
# HuBERT / MelHuBERT self-supervised pre-training in two iterations, then
# DistilHuBERT-style distillation, from raw audio to RESULTS.md:
#   k-means on MFCC -> pre-train 1 -> k-means on a layer of model 1 -> pre-train 2
#   (a fresh model on the new labels, as HuBERT's second iteration) -> distil model 2.
# Run from a recipe directory (egs2/<corpus>/ssl1).  Options: ssl.sh --help
set -euo pipefail

# shellcheck source=utils/stage_lib.sh
. utils/stage_lib.sh  # log, die, fresh, set_launcher

# General
stage=1                 # first stage to run
stop_stage=100          # last stage to run
ngpu=0                  # GPUs for pre-training and distillation (0: CPU; >1: DDP through torchrun)
num_nodes=1             # nodes for pre-training and distillation (>1: cmd_backend=slurm)
num_procs=              # their processes per node (default: ngpu, at least 1; >1 on CPU: DDP, gloo)
expdir=exp              # outputs: ${expdir}/{km1,pretrain1,km2,pretrain2,distill,upstreams}

# Data (unlabelled speech; phones.ctm, where present, only scores the k-means labels)
train_set=              # data/<train_set>
valid_set=              # data/<valid_set>
local_data_opts=        # options for local/data.sh
ctm=phones.ctm          # phone alignment in each data dir for PNMI (skipped where absent)

# Iteration 1: k-means on MFCC, then pre-training
km1_upstream=mfcc       # features clustered for the first labels (a hub name: mfcc, fbank)
km1_upstream_opts=      # space-separated KEY=VALUE upstream overrides, e.g. "deltas=true"
km1_k=100               # clusters
km1_max_frames=100000   # frames sampled for fitting
pretrain1_config=       # YAML config of ssltk.bin.pretrain
pretrain1_args=         # extra ssltk.bin.pretrain arguments, e.g. "--override trainer.max_epochs=5"

# Iteration 2: k-means on a layer of the iteration-1 model, then pre-training from scratch
km2_layer=6             # hidden state of exp/pretrain1/upstream.pt to cluster
km2_k=500               # clusters
km2_max_frames=100000   # frames sampled for fitting
pretrain2_config=       # YAML config of ssltk.bin.pretrain (a fresh model: model.upstream a registry name)
pretrain2_args=         # extra ssltk.bin.pretrain arguments

# Distillation of the iteration-2 model
distill_config=         # YAML config of ssltk.bin.distill (the teacher is set here, not in the config)
distill_args=           # extra ssltk.bin.distill arguments

km_args=                # extra 'ssltk.bin.kmeans fit' arguments for both iterations, e.g. "--n-init 3"

help_message=$(cat <<EOF
Usage: $0 --train_set <set> --valid_set <set> --pretrain1_config <yaml> --pretrain2_config <yaml>
          --distill_config <yaml> [options]
Stages:
  1: data preparation (local/data.sh)      5: k-means 2 on layer --km2_layer of model 1
  2: data validation                       6: pre-training 2 (fresh model, k-means 2 labels)
  3: k-means 1 on MFCC: fit, label, PNMI   7: distillation (teacher: model 2)
  4: pre-training 1 (k-means 1 labels)     8: export to ${expdir}/upstreams/ and RESULTS.md
A finished step is skipped on a rerun (its output exists and is newer than its inputs);
an interrupted pre-training or distillation continues from its checkpoint.
Options (default):
  --stage (${stage}) --stop_stage (${stop_stage}) --ngpu (${ngpu}) --expdir (${expdir})
  --num_nodes (${num_nodes}) --num_procs (${num_procs})
  --train_set --valid_set --local_data_opts --ctm (${ctm})
  --km1_upstream (${km1_upstream}) --km1_upstream_opts --km1_k (${km1_k}) --km1_max_frames (${km1_max_frames})
  --km2_layer (${km2_layer}) --km2_k (${km2_k}) --km2_max_frames (${km2_max_frames}) --km_args
  --pretrain1_config --pretrain1_args --pretrain2_config --pretrain2_args
  --distill_config --distill_args
EOF
)

log "$0 $*"
# shellcheck source=egs2/TEMPLATE/path.sh
. ./path.sh
# shellcheck source=egs2/TEMPLATE/cmd.sh
. ./cmd.sh
# shellcheck source=utils/parse_options.sh
. utils/parse_options.sh

if [ $# -ne 0 ]; then
    log "unexpected arguments: $*"
    echo "${help_message}" >&2
    exit 1
fi

[ -n "${train_set}" ] && [ -n "${valid_set}" ] || die "--train_set and --valid_set are required"
[ "${train_set}" != "${valid_set}" ] || die "--train_set and --valid_set must differ (labels of both go to one k-means dir)"
need_config() {  # need_config <option name> <value> <first stage using it>
    if [ "${stage}" -le "$3" ] && [ "${stop_stage}" -ge "$3" ]; then
        [ -n "$2" ] || die "--$1 is required for stage $3"
        [ -f "$2" ] || die "--$1 $2: no such file"
    fi
    return 0
}
need_config pretrain1_config "${pretrain1_config}" 4
need_config pretrain2_config "${pretrain2_config}" 6
need_config distill_config "${distill_config}" 7
for n in "${km1_k}" "${km2_k}" "${km1_max_frames}" "${km2_max_frames}"; do
    [[ "${n}" =~ ^[1-9][0-9]*$ ]] || die "--km*_k and --km*_max_frames must be positive integers, not '${n}'"
done
[[ "${km2_layer}" =~ ^-?[0-9]+$ ]] || die "--km2_layer must be an integer, not '${km2_layer}'"

km1=${expdir}/km1
pt1=${expdir}/pretrain1
km2=${expdir}/km2
pt2=${expdir}/pretrain2
kd=${expdir}/distill
updir=${expdir}/upstreams

# launcher: python -m, or one torch.distributed.run job for several processes (launch_opts: its job options)
set_launcher "${ngpu}" "" "${num_nodes}" "${num_procs}"

# kmeans_iteration <km dir> <iteration> <fit options...>: fit a codebook on data/${train_set},
# label the train and valid sets into <km dir>/<set>/text.km, score them where ${ctm} exists.
kmeans_iteration() {
    local km=$1 it=$2 dset
    shift 2
    local codebook=${km}/codebook.pt
    local -a labels=() label_data=() label_out=() score_data=() score_labels=()
    local fit_args="--data data/${train_set} $* ${km_args}"
    mkdir -p "${km}/log"
    if fresh "${codebook}"; then
        if [ -f "${km}/fit_args" ] && [ "$(cat "${km}/fit_args")" != "${fit_args}" ]; then
            die "k-means ${it}: ${codebook} was fitted with '$(cat "${km}/fit_args")', not '${fit_args}': remove ${km} to refit"
        fi
        log "k-means ${it}: ${codebook} exists, not refitted (remove it to refit)"
    else
        log "k-means ${it}: fitting -> ${codebook} (log: ${km}/log/fit.log)"
        # shellcheck disable=SC2086
        ${cuda_cmd} --gpu "$((ngpu > 0 ? 1 : 0))" "${km}/log/fit.log" \
            python -m ssltk.bin.kmeans fit --data "data/${train_set}" "$@" \
            --seed 0 --out "${codebook}" ${km_args} \
            || { tail -n 5 "${km}/log/fit.log" >&2; die "k-means ${it} fit failed (${km}/log/fit.log)"; }
        echo "${fit_args}" > "${km}/fit_args"
    fi
    for dset in ${train_set} ${valid_set}; do
        labels+=("${km}/${dset}/text.km")
        # km_info.yaml is written after text.km: its presence marks a finished labelling
        if ! fresh "${km}/${dset}/km_info.yaml" "${codebook}"; then
            label_data+=("data/${dset}")
            label_out+=("${km}/${dset}")
        fi
    done
    if [ ${#label_data[@]} -gt 0 ]; then
        log "k-means ${it}: labelling ${label_data[*]} -> ${label_out[*]} (log: ${km}/log/label.log)"
        ${cuda_cmd} --gpu "$((ngpu > 0 ? 1 : 0))" "${km}/log/label.log" \
            python -m ssltk.bin.kmeans label --codebook "${codebook}" \
            --data "${label_data[@]}" --out "${label_out[@]}" \
            || { tail -n 5 "${km}/log/label.log" >&2; die "k-means ${it} labelling failed (${km}/log/label.log)"; }
    else
        log "k-means ${it}: labels exist: ${labels[*]}"
    fi
    for dset in ${train_set} ${valid_set}; do
        if [ ! -f "data/${dset}/${ctm}" ]; then
            log "k-means ${it}: no data/${dset}/${ctm}: PNMI of ${dset} not scored"
        elif ! fresh "${km}/${dset}/km_score.json" "${km}/${dset}/text.km" "data/${dset}/${ctm}"; then
            score_data+=("data/${dset}")
            score_labels+=("${km}/${dset}")
        fi
    done
    if [ ${#score_data[@]} -gt 0 ]; then
        ${train_cmd} "${km}/log/score.log" \
            python -m ssltk.bin.kmeans score --data "${score_data[@]}" --labels "${score_labels[@]}" \
            --ctm "${ctm}" \
            || { tail -n 5 "${km}/log/score.log" >&2; die "k-means ${it} scoring failed (${km}/log/score.log)"; }
        grep PNMI "${km}/log/score.log" | sed 's/^/    /' >&2 || true
    fi
}

# train_step <what> <exp dir> <output file> <log name> <inputs...> -- <module> <arguments...>
# Runs <module> unless <output file> is newer than every input; a stale output stops
# with an error (the trainer would resume the old run instead of training on new inputs).
train_step() {
    local what=$1 exp=$2 out=$3 logname=$4
    shift 4
    local -a deps=()
    while [ "$1" != -- ]; do deps+=("$1"); shift; done
    shift
    if fresh "${out}" "${deps[@]}"; then
        log "${what}: ${out} exists, not retrained (remove ${exp} to retrain)"
        return 0
    fi
    [ -e "${out}" ] && die "${what}: ${out} is older than its inputs (${deps[*]}): remove ${exp} to retrain"
    mkdir -p "${exp}/log"
    log "${what} -> ${exp} (log: ${exp}/log/${logname}.log)"
    ${cuda_cmd} "${launch_opts[@]}" "${exp}/log/${logname}.log" "${launcher[@]}" "$@" \
        || { tail -n 5 "${exp}/log/${logname}.log" >&2; die "${what} failed (${exp}/log/${logname}.log)"; }
}

if [ "${stage}" -le 1 ] && [ "${stop_stage}" -ge 1 ]; then
    log "Stage 1: data preparation"
    # shellcheck disable=SC2086
    local/data.sh ${local_data_opts}
fi

if [ "${stage}" -le 2 ] && [ "${stop_stage}" -ge 2 ]; then
    log "Stage 2: validating data/{${train_set},${valid_set}}"
    for dset in ${train_set} ${valid_set}; do
        utils/validate_data_dir.sh data/"${dset}"
    done
fi

# pretrain_iteration IT KM_DIR EXP CONFIG [extra ssltk.bin.pretrain args]: pre-training on
# the labels of KM_DIR, exported to EXP/upstream.pt
pretrain_iteration() {
    local it=$1 km=$2 exp=$3 config=$4
    shift 4
    train_step "pre-training ${it}" "${exp}" "${exp}/upstream.pt" pretrain \
        "${km}/${train_set}/km_info.yaml" "${km}/${valid_set}/km_info.yaml" "${config}" -- \
        ssltk.bin.pretrain --config "${config}" \
        --train "data/${train_set}" --valid "data/${valid_set}" --exp "${exp}" \
        --train-labels "${km}/${train_set}" --valid-labels "${km}/${valid_set}" "$@"
}

if [ "${stage}" -le 3 ] && [ "${stop_stage}" -ge 3 ]; then
    log "Stage 3: k-means 1 on ${km1_upstream} (k=${km1_k}) -> ${km1}"
    km1_opts=(--upstream "${km1_upstream}" --k "${km1_k}" --max-frames "${km1_max_frames}")
    for opt in ${km1_upstream_opts}; do km1_opts+=(--upstream-opt "${opt}"); done
    kmeans_iteration "${km1}" 1 "${km1_opts[@]}"
fi

if [ "${stage}" -le 4 ] && [ "${stop_stage}" -ge 4 ]; then
    log "Stage 4: pre-training 1 on the k-means 1 labels"
    # shellcheck disable=SC2086
    pretrain_iteration 1 "${km1}" "${pt1}" "${pretrain1_config}" ${pretrain1_args}
fi

if [ "${stage}" -le 5 ] && [ "${stop_stage}" -ge 5 ]; then
    log "Stage 5: k-means 2 on layer ${km2_layer} of ${pt1}/upstream.pt (k=${km2_k}) -> ${km2}"
    [ -f "${pt1}/upstream.pt" ] || die "${pt1}/upstream.pt not found: run stage 4 first"
    # a new iteration-1 model makes the codebook stale
    fresh "${km2}/codebook.pt" "${pt1}/upstream.pt" || rm -f "${km2}/codebook.pt"
    kmeans_iteration "${km2}" 2 --upstream "${pt1}/upstream.pt" --layer "${km2_layer}" \
        --k "${km2_k}" --max-frames "${km2_max_frames}"
fi

if [ "${stage}" -le 6 ] && [ "${stop_stage}" -ge 6 ]; then
    log "Stage 6: pre-training 2 (from scratch) on the k-means 2 labels"
    # shellcheck disable=SC2086
    pretrain_iteration 2 "${km2}" "${pt2}" "${pretrain2_config}" ${pretrain2_args}
fi

if [ "${stage}" -le 7 ] && [ "${stop_stage}" -ge 7 ]; then
    log "Stage 7: distilling ${pt2}/upstream.pt"
    [ -f "${pt2}/upstream.pt" ] || die "${pt2}/upstream.pt not found: run stage 6 first"
    # shellcheck disable=SC2086
    train_step "distillation" "${kd}" "${kd}/student.pt" distill \
        "${pt2}/upstream.pt" "${distill_config}" -- \
        ssltk.bin.distill --config "${distill_config}" --teacher "${pt2}/upstream.pt" \
        --train "data/${train_set}" --valid "data/${valid_set}" --exp "${kd}" ${distill_args}
fi

if [ "${stage}" -le 8 ] && [ "${stop_stage}" -ge 8 ]; then
    log "Stage 8: exporting upstreams to ${updir} and writing RESULTS.md"
    mkdir -p "${updir}"
    for pair in "pretrain1:${pt1}/upstream.pt" "pretrain2:${pt2}/upstream.pt" "student:${kd}/student.pt"; do
        name=${pair%%:*}
        src=${pair#*:}
        if [ ! -f "${src}" ]; then
            log "no ${src}: ${updir}/${name}.pt not exported"
            continue
        fi
        if [ ! "${updir}/${name}.pt" -ef "${src}" ]; then
            # a hard link (no copy of the weights) where possible
            ln -f "${src}" "${updir}/${name}.pt" 2>/dev/null || cp -f "${src}" "${updir}/${name}.pt"
        fi
    done
    python -m ssltk.bin.ssl_results --expdir "${expdir}" --train_set "${train_set}" \
        --valid_set "${valid_set}" --out RESULTS.md
    log "Results: $(pwd)/RESULTS.md"
    cat RESULTS.md
fi

log "Successfully finished. [elapsed=${SECONDS}s]"
