#!/usr/bin/env bash
# A compression study (seed 001, "Model Compression & Sequence Compression"): compressed
# versions of one upstream as normal hub checkpoints, their cost measured side by side,
# each evaluated on the recipe's downstream tasks, one RESULTS.md table.  Run from a recipe
# directory (egs2/<corpus>/compress1); the recipe provides local/data.sh and
# local/evaluate.sh (one upstream, one tag, the seeds).  Options: compress.sh --help
set -euo pipefail

# shellcheck source=utils/stage_lib.sh
. utils/stage_lib.sh  # log, die, fresh, trained

stage=1
stop_stage=100
source_upstream=ssltk_mini  # the upstream to compress (hub name or checkpoint)
specs="none weights:0.5 heads:4 ffn:0.5 fixed:2@2 int8"  # see python -m ssltk.bin.compress_study -h
expdir=exp
local_data_opts=        # options for local/data.sh
skip_data=data/dev      # skip:T measures attention diagonality on this data dir
cost_data=data/test     # the batch timed for the speed-up column
cost_utts=16
cost_runs=5
cost_threads=1          # torch threads while timing
# Continued masked-prediction pre-training after each compression (empty: none): the config,
# the unlabelled data dir and the k-means targets (the source's layer km_layer, km_k units).
# Iterative: a method's next level starts from its previous level's continued upstream.
continue_config=
continue_set=train
continue_valid=dev
km_layer=4
km_k=100
seeds="0 1 2"
tasks=                  # the table's columns: NAME=SET:METRIC ... (what local/evaluate.sh scores)
eval_opts=              # more options for local/evaluate.sh (split on spaces), e.g. "--tasks digit,phones"
results_notes=          # markdown appended to RESULTS.md

help_message=$(cat <<EOF
Usage: $0 --tasks "digit=test:acc ..." [options]
Stages:
  1: data preparation (local/data.sh)
  2: compressed upstreams -> ${expdir}/upstreams/<tag>.pt and upstreams.yaml (with
     --continue_config: continued pre-training of each -> ${expdir}/continue_<tag>)
  3: cost: parameters, non-zero parameters, MACs per second, extraction speed-up
  4: downstream: local/evaluate.sh --upstream U --precision P --tag T --seeds S, per upstream
  5: RESULTS.md (python -m ssltk.bin.compress_study table)
Options (default):
  --stage (${stage}) --stop_stage (${stop_stage}) --expdir (${expdir})
  --source_upstream (${source_upstream}) --specs (${specs})
  --local_data_opts --skip_data (${skip_data})
  --cost_data (${cost_data}) --cost_utts (${cost_utts}) --cost_runs (${cost_runs}) --cost_threads (${cost_threads})
  --continue_config (${continue_config:-none}) --continue_set (${continue_set}) --continue_valid (${continue_valid})
  --km_layer (${km_layer}) --km_k (${km_k})
  --seeds (${seeds}) --tasks (${tasks}) --eval_opts (${eval_opts}) --results_notes (${results_notes})
EOF
)

log "$0 $*"
# shellcheck source=egs2/TEMPLATE/path.sh
. ./path.sh
# shellcheck source=egs2/TEMPLATE/cmd.sh
. ./cmd.sh
# shellcheck source=utils/parse_options.sh
. utils/parse_options.sh
[ $# -eq 0 ] || { log "unexpected arguments: $*"; echo "${help_message}" >&2; exit 1; }
[ -n "${tasks}" ] || die "--tasks is empty: give the table's columns, e.g. --tasks \"digit=test:acc\""
[ -z "${continue_config}" ] || [ -f "${continue_config}" ] || die "--continue_config ${continue_config}: no such file"
# shellcheck disable=SC2086
mapfile -t tag_list < <(python -m ssltk.bin.compress_study tags ${specs}) || die "bad --specs '${specs}'"
up=${expdir}/upstreams
km=${expdir}/km_continue

if [ "${stage}" -le 1 ] && [ "${stop_stage}" -ge 1 ]; then
    log "Stage 1: data preparation"
    # shellcheck disable=SC2086
    local/data.sh ${local_data_opts}
fi

# continued <tag> <checkpoint> <spec>: continued pre-training from a compressed checkpoint;
# prints the upstream to use (the checkpoint itself without --continue_config)
continued() {
    local tag=$1 ckpt=$2 spec=$3 exp=${expdir}/continue_$1 args=()
    if [ -z "${continue_config}" ]; then echo "${ckpt}"; return; fi
    # weight pruning continues with its masks, so that the pruned weights stay zero
    case "${spec}" in weights:*) args+=("model.prune.sparsity=${spec#weights:}") ;; esac
    if ! trained "${exp}"; then
        log "continued pre-training of ${tag} -> ${exp} (log: ${exp}/log/pretrain.log)"
        ${cuda_cmd} "${exp}/log/pretrain.log" python -m ssltk.bin.pretrain --config "${continue_config}" \
            --train "data/${continue_set}" --valid "data/${continue_valid}" \
            --train_labels "${km}/${continue_set}" --valid_labels "${km}/${continue_valid}" --exp "${exp}" \
            --override "model.upstream=${ckpt}" "${args[@]}" >&2 \
            || die "continued pre-training of ${tag} failed (${exp}/log/pretrain.log)"
    fi
    echo "${exp}/upstream.pt"
}

if [ "${stage}" -le 2 ] && [ "${stop_stage}" -ge 2 ]; then
    if [ -n "${continue_config}" ] && [ ! -f "${km}/${continue_valid}/text.km" ]; then
        log "Stage 2: k-means targets for continued pre-training: ${source_upstream} layer ${km_layer}, k=${km_k}"
        mkdir -p "${km}"
        python -m ssltk.bin.kmeans fit --upstream "${source_upstream}" --layer "${km_layer}" --k "${km_k}" \
            --data "data/${continue_set}" --out "${km}/codebook.pt"
        python -m ssltk.bin.kmeans label --codebook "${km}/codebook.pt" \
            --data "data/${continue_set}" "data/${continue_valid}" \
            --out "${km}/${continue_set}" "${km}/${continue_valid}"
    fi
    declare -A last=()  # method -> the upstream its next level starts from
    i=0
    for spec in ${specs}; do
        method=${spec%%:*} tag=${tag_list[${i}]}
        i=$((i + 1))
        case "${method}" in
            none|int8|bf16|upstream)
                python -m ssltk.bin.compress_study make --source "${source_upstream}" --spec "${spec}" --out "${up}" ;;
            *)
                from=${last[${method}]:-${source_upstream}}
                if [ ! -f "${up}/${tag}.pt" ]; then
                    log "Stage 2: ${spec} of ${from}"
                    python -m ssltk.bin.compress_study make --source "${from}" --spec "${spec}" --out "${up}" \
                        --data "${skip_data}"
                fi
                use=$(continued "${tag}" "${up}/${tag}.pt" "${spec}")
                if [ "${use}" != "${up}/${tag}.pt" ]; then
                    python -m ssltk.bin.compress_study continued --out "${up}" --tag "${tag}" --upstream "${use}"
                    last[${method}]=${use}
                fi
                ;;
        esac
    done
fi

if [ "${stage}" -le 3 ] && [ "${stop_stage}" -ge 3 ]; then
    log "Stage 3: cost of every upstream -> ${up}/cost.yaml"
    python -m ssltk.bin.compress_study cost --upstreams "${up}" --data "${cost_data}" --utts "${cost_utts}" \
        --runs "${cost_runs}" --threads "${cost_threads}"
fi

if [ "${stage}" -le 4 ] && [ "${stop_stage}" -ge 4 ]; then
    mapfile -t rows < <(python -c 'import sys
from ssltk.compress.study import read_manifest
for e in read_manifest(sys.argv[1]):
    print(e.tag, e.upstream, e.precision)' "${up}")
    for row in "${rows[@]}"; do
        read -r tag upstream precision <<< "${row}"
        log "Stage 4: downstream tasks of ${tag} (${upstream}, ${precision})"
        # shellcheck disable=SC2086
        local/evaluate.sh --upstream "${upstream}" --precision "${precision}" --tag "${tag}" \
            --seeds "${seeds}" --expdir "${expdir}" ${eval_opts} < /dev/null
    done
fi

if [ "${stage}" -le 5 ] && [ "${stop_stage}" -ge 5 ]; then
    log "Stage 5: RESULTS.md"
    task_args=()
    for t in ${tasks}; do task_args+=(--task "${t}"); done
    python -m ssltk.bin.compress_study table --upstreams "${up}" --expdir "${expdir}" "${task_args[@]}" \
        --out RESULTS.md ${results_notes:+--notes "${results_notes}"}
    cat RESULTS.md
fi
log "Successfully finished. [elapsed=${SECONDS}s]"
