#!/usr/bin/env bash
# Shared stages of the downstream recipes (asr1/asr.sh, cls1/cls.sh call this
# with --task): an SSL (or FBANK) upstream, a weighted sum or one layer, and a
# task head, from data preparation to RESULTS.md.  Run from a recipe directory.
# Everything task-specific (targets, outputs, which tables to score) is asked of
# the task (ssltk.tasks.registry: cls, asr, cs, ...), never switched on here.
set -euo pipefail

# shellcheck source=utils/stage_lib.sh
. utils/stage_lib.sh  # log, die, set_launcher

# General
stage=1                 # first stage to run
stop_stage=100          # last stage to run
nj=4                    # parallel jobs (feature dumps)
ngpu=0                  # GPUs for training (0: CPU; >1: DDP through torchrun)
num_nodes=1             # nodes for training (>1: cmd_backend=slurm, srun + torchrun)
num_procs=              # training processes per node (default: ngpu, at least 1; >1 on CPU: DDP, gloo)
task=                   # a registered task: cls, asr, cs, ... (cls.sh / asr.sh set it)
expdir=exp              # experiments go to ${expdir}/<tag>
exp_tag=                # default: <task>_<upstream>_<featurizer>_<config name>
dumpdir=dump            # feature dumps and token lists

# Data
train_set=              # data/<train_set>
valid_set=              # data/<valid_set>
test_sets=              # space-separated data/<set> names to decode and score
local_data_opts=        # options for local/data.sh

# Upstream and features
upstream=fbank          # registry name (hub) or checkpoint path
featurizer=weighted_sum # weighted_sum | layer
layer=-1                # hidden state for --featurizer layer (or a dump)
feats_type=raw          # raw: features computed on the fly; dump: extract_feats first (one layer)

# Training and inference
train_config=           # YAML config (trainer + task sections)
train_args=             # extra ssltk.bin.train arguments, e.g. "--override trainer.max_epochs=5"
inference_args=         # extra ssltk.bin.infer arguments, e.g. "--beam 10"

# Task specifics
label_table=            # cls: the label table (overrides cls.label_table of the config)
intent=                 # cls: true: also scenario and action accuracy (overrides cls.intent)
text_table=text         # transcript table for the token list (text, text.phn); stage 3 runs
                        # when the training set has it
token_type=char         # char | bpe | phone | word
bpe_size=100            # sentencepiece vocabulary for token_type=bpe
lang_tags=text.lang     # word-level language tags (bilingual bpe token lists)
score_units=            # asr: units to score (word, char, phone; default: the task's choice)
results_file=RESULTS.md # stage 7 writes the table of every experiment under ${expdir} here
results_reference=      # RESULTS.md: divide each row's last metric by this experiment's
results_notes=          # RESULTS.md: a markdown file appended after the tables

help_message=$(cat <<EOF
Usage: $0 --task <task> --train_set <set> --valid_set <set> --test_sets "<sets>" [options]
Stages:
  1: data preparation (local/data.sh)     5: training (ssltk.bin.train)
  2: data validation                      6: inference (ssltk.bin.infer)
  3: token list (if the train set has it) 7: scoring and RESULTS.md
  4: feature dump (--feats_type dump)
Options (default):
  --stage (${stage}) --stop_stage (${stop_stage}) --nj (${nj}) --ngpu (${ngpu})
  --num_nodes (${num_nodes}) --num_procs (${num_procs})
  --upstream (${upstream}) --featurizer (${featurizer}) --layer (${layer}) --feats_type (${feats_type})
  --train_config  --train_args  --inference_args  --expdir (${expdir}) --exp_tag
  --label_table (${label_table}) --intent (${intent}) --text_table (${text_table})
  --token_type (${token_type}) --bpe_size (${bpe_size}) --lang_tags (${lang_tags})
  --score_units (${score_units}) --results_file (${results_file}) --results_reference (${results_reference})
  --results_notes (${results_notes}) --local_data_opts
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

[ -n "${task}" ] || die "--task is required"
[ -n "${train_set}" ] && [ -n "${valid_set}" ] || die "--train_set and --valid_set are required"
[ -n "${train_config}" ] || die "--train_config is required"
[ -f "${train_config}" ] || die "--train_config ${train_config}: no such file"
case "${featurizer}" in weighted_sum|layer) ;; *) die "--featurizer must be weighted_sum or layer" ;; esac
case "${feats_type}" in raw|dump) ;; *) die "--feats_type must be raw or dump" ;; esac
if [ "${feats_type}" = dump ] && [ "${featurizer}" != layer ]; then
    die "--feats_type dump stores one layer: use --featurizer layer --layer N (or feats_type raw)"
fi

upstream_tag=$(basename "${upstream}" | sed -e 's/\.[^.]*$//')
feat_tag=${featurizer}
[ "${featurizer}" = layer ] && feat_tag+="${layer}"
exp_tag=${exp_tag:-${task}_${upstream_tag}_${feat_tag}_$(basename "${train_config}" .yaml)}
exp=${expdir}/${exp_tag}
token_dir=${dumpdir}/tokens/${token_type}
[ "${token_type}" = bpe ] && token_dir+="${bpe_size}"
feats_dir=${dumpdir}/${upstream_tag}_layer${layer}
train_opts=(--task "${task}" --config "${train_config}" --upstream "${upstream}"
            --override "frontend.featurizer=${featurizer}" "frontend.layer=${layer}")
[ -n "${label_table}" ] && train_opts+=(--override "cls.label_table=${label_table}")
[ -n "${intent}" ] && train_opts+=(--override "cls.intent=${intent}")

# Where stage 5-6 read each set: the data dir or its feature dump.
set_dir() { if [ "${feats_type}" = dump ]; then echo "${feats_dir}/$1"; else echo "data/$1"; fi; }

if [ "${stage}" -le 1 ] && [ "${stop_stage}" -ge 1 ]; then
    log "Stage 1: data preparation"
    # shellcheck disable=SC2086
    local/data.sh ${local_data_opts}
fi

if [ "${stage}" -le 2 ] && [ "${stop_stage}" -ge 2 ]; then
    log "Stage 2: validating data/{${train_set},${valid_set},${test_sets// /,}}"
    for dset in ${train_set} ${valid_set} ${test_sets}; do
        utils/validate_data_dir.sh data/"${dset}"
    done
fi

# A token list wherever there are transcripts; the task decides whether it uses one.
if [ "${stage}" -le 3 ] && [ "${stop_stage}" -ge 3 ]; then
    if [ -f "data/${train_set}/${text_table}" ]; then
        log "Stage 3: token list (${token_type}) -> ${token_dir}"
        token_opts=(--text "data/${train_set}/${text_table}" --type "${token_type}" --out "${token_dir}")
        [ "${token_type}" = bpe ] && token_opts+=(--bpe_size "${bpe_size}")
        [ "${token_type}" = bpe ] && [ -f "data/${train_set}/${lang_tags}" ] \
            && token_opts+=(--lang_tags "data/${train_set}/${lang_tags}")
        python -m ssltk.bin.tokens "${token_opts[@]}"
    else
        log "Stage 3: no data/${train_set}/${text_table}: no token list"
    fi
fi

if [ "${stage}" -le 4 ] && [ "${stop_stage}" -ge 4 ] && [ "${feats_type}" = dump ]; then
    log "Stage 4: dumping ${upstream} layer ${layer} -> ${feats_dir}"
    for dset in ${train_set} ${valid_set} ${test_sets}; do
        python -m ssltk.bin.extract_feats --upstream "${upstream}" --layer "${layer}" \
            --data "data/${dset}" --out "${feats_dir}/${dset}" --nj "${nj}" --cmd "${train_cmd}"
    done
fi

if [ "${stage}" -le 5 ] && [ "${stop_stage}" -ge 5 ]; then
    log "Stage 5: training -> ${exp} (log: ${exp}/log/train.log)"
    mkdir -p "${exp}"
    [ "${feats_type}" = dump ] && train_opts+=(--feats)
    [ -f "${token_dir}/tokens.txt" ] && train_opts+=(--tokens "${token_dir}")
    set_launcher "${ngpu}" ssltk.bin.train "${num_nodes}" "${num_procs}"
    # shellcheck disable=SC2086
    ${cuda_cmd} "${launch_opts[@]}" "${exp}/log/train.log" \
        "${launcher[@]}" "${train_opts[@]}" --train "$(set_dir "${train_set}")" \
        --valid "$(set_dir "${valid_set}")" --exp "${exp}" ${train_args} \
        || { tail -n 5 "${exp}/log/train.log" >&2; die "training failed (${exp}/log/train.log)"; }
fi

if [ "${stage}" -le 6 ] && [ "${stop_stage}" -ge 6 ]; then
    for dset in ${test_sets}; do
        log "Stage 6: decoding ${dset} -> ${exp}/decode_${dset}"
        mkdir -p "${exp}/decode_${dset}"
        # shellcheck disable=SC2086
        ${decode_cmd} "${exp}/decode_${dset}/decode.log" \
            python -m ssltk.bin.infer --exp "${exp}" --data "$(set_dir "${dset}")" \
            --out "${exp}/decode_${dset}" ${inference_args} \
            || { tail -n 5 "${exp}/decode_${dset}/decode.log" >&2; die "decoding ${dset} failed"; }
    done
fi

if [ "${stage}" -le 7 ] && [ "${stop_stage}" -ge 7 ]; then
    for dset in ${test_sets}; do
        log "Stage 7: scoring ${dset}"
        decode=${exp}/decode_${dset}
        score_opts=(--exp "${exp}" --data "data/${dset}" --decode "${decode}" --out "${decode}/result.txt")
        [ -n "${score_units}" ] && score_opts+=(--units "${score_units}")
        python -m ssltk.bin.score "${score_opts[@]}"
    done
    python -m ssltk.bin.results_table --expdir "${expdir}" --out "${results_file}" \
        ${results_reference:+--reference "${results_reference}"} ${results_notes:+--notes "${results_notes}"}
    python -m ssltk.bin.plot_layer_weights --expdir "${expdir}" --out "${expdir}/layer_weights.png"
    log "Results: $(pwd)/${results_file}"
    cat "${results_file}"
fi

log "Successfully finished. [elapsed=${SECONDS}s]"
