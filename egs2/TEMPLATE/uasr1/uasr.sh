#!/usr/bin/env bash
# Unsupervised ASR, wav2vec-U 2.0 style (Liu et al. 2022; fairseq examples/wav2vec/unsupervised),
# with the optional CLIP loss of the JSALT 2022 work: unpaired speech and text -> phone
# recogniser, from raw corpus to RESULTS.md.  Run from a recipe directory (egs2/<corpus>/uasr1).
# Options: uasr.sh --help
set -euo pipefail

# shellcheck source=utils/stage_lib.sh
. utils/stage_lib.sh  # log, die, fresh, trained, set_launcher

# General
stage=1                 # first stage to run
stop_stage=100          # last stage to run
ngpu=0                  # GPUs for training (0: CPU; >1: DDP through torchrun)
num_nodes=1             # nodes for training (>1: cmd_backend=slurm, srun + torchrun)
num_procs=              # training processes per node (default: ngpu, at least 1; >1 on CPU: DDP, gloo)
nj=2                    # parallel jobs for silence removal, phonemisation and features
expdir=exp
dumpdir=dump
results_file=RESULTS.md  # written by stage 9

# Data: data/<set> from local/data.sh; the unpaired text in data/${text_set}/text.txt
train_set=train
valid_set=dev           # validation: checkpoint choice by weighted_lm_ppl (no labels)
test_sets="test"        # decoded and scored (PER against text.phn where present)
text_set=text_only      # data/<text_set>/text.txt (and text.phn: phones given, no espeak)
local_data_opts=        # options for local/data.sh

# Audio side
remove_silence=true     # energy VAD before features (training and evaluation sets)
vad_opts=               # extra ssltk.bin.remove_silence options
upstream=fbank          # features: hub name or upstream checkpoint
layer=                  # hidden state of the upstream (empty: the last)
feats_tag=              # name of the feature dump (default: from upstream and layer)
km_k=64                 # k-means clusters on MFCC for the auxiliary loss (0: no aux loss)

# Text side
language=en-us          # espeak-ng language for phonemisation
sil_prob=0.5            # <SIL> between words with this probability (always at sentence ends)
min_phone_count=1       # phones rarer than this are pruned (with their sentences)
lm_order=4              # phone LM order

# GAN
gan_config=             # YAML config of ssltk.bin.uasr_train
seeds="0 1 2"           # one run per seed
clip_weights=0          # one system per weight: 0 = no CLIP loss, e.g. "0 1.0"
clip_dir=               # CLIP encoder + targets (text_encoder.pt, <set>/targets.scp); made by
                        # local/clip_targets.sh when that exists and this is empty
train_args=             # extra ssltk.bin.uasr_train arguments, e.g. "--override trainer.max_steps=100"

help_message=$(cat <<EOF
Usage: $0 --gan_config <yaml> [options]
Stages:
  1: data preparation (local/data.sh)       6: CLIP text encoder and targets (clip_weights > 0)
  2: validation, silence removal (VAD)      7: GAN training, one run per seed and CLIP weight
  3: text: phonemes, <SIL>, phone LM        8: decoding and PER (checkpoint by weighted_lm_ppl)
  4: features of the upstream               9: RESULTS.md
  5: k-means on MFCC (auxiliary targets)
A finished step is skipped on a rerun; an interrupted training continues from its checkpoint.
Options (default):
  --stage (${stage}) --stop_stage (${stop_stage}) --ngpu (${ngpu}) --nj (${nj}) --expdir (${expdir})
  --num_nodes (${num_nodes}) --num_procs (${num_procs})
  --results_file (${results_file})
  --train_set (${train_set}) --valid_set (${valid_set}) --test_sets (${test_sets}) --text_set (${text_set})
  --local_data_opts --remove_silence (${remove_silence}) --vad_opts
  --upstream (${upstream}) --layer (${layer}) --feats_tag --km_k (${km_k})
  --language (${language}) --sil_prob (${sil_prob}) --min_phone_count (${min_phone_count}) --lm_order (${lm_order})
  --gan_config --seeds (${seeds}) --clip_weights (${clip_weights}) --clip_dir --train_args
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

if [ "${stage}" -le 7 ] && [ "${stop_stage}" -ge 7 ]; then
    [ -n "${gan_config}" ] || die "--gan_config is required for stage 7"
    [ -f "${gan_config}" ] || die "--gan_config ${gan_config}: no such file"
fi
[[ "${km_k}" =~ ^[0-9]+$ ]] || die "--km_k must be a non-negative integer, not '${km_k}'"
case "${remove_silence}" in true|false) ;; *) die "--remove_silence must be true or false";; esac
[ -n "${feats_tag}" ] || feats_tag=$(basename "${upstream}" .pt)${layer:+_l${layer}}
if [ "${stage}" -le 4 ] && [ "${stop_stage}" -ge 4 ] && [[ "${upstream}" == */* || "${upstream}" == *.pt ]]; then
    [ -e "${upstream}" ] || die "--upstream ${upstream}: no such checkpoint (from $(pwd))"
fi

# the speech sets, and the data dir each is read from after stage 2
speech_sets="${train_set} ${valid_set} ${test_sets}"
suffix=
${remove_silence} && suffix=_nosil
textdir=data/${text_set}_prep
km=${expdir}/km_mfcc${km_k}

if [ "${stage}" -le 1 ] && [ "${stop_stage}" -ge 1 ]; then
    log "Stage 1: data preparation"
    # shellcheck disable=SC2086
    local/data.sh ${local_data_opts}
fi

if [ "${stage}" -le 2 ] && [ "${stop_stage}" -ge 2 ]; then
    log "Stage 2: validating data/{${speech_sets// /,}}; silence removal: ${remove_silence}"
    for dset in ${speech_sets}; do
        utils/validate_data_dir.sh "data/${dset}"
        ${remove_silence} || continue
        if fresh "data/${dset}${suffix}/vad_info.json" "data/${dset}/wav.scp"; then
            log "data/${dset}${suffix} exists"
            continue
        fi
        mkdir -p "${expdir}/log"
        # shellcheck disable=SC2086
        ${train_cmd} "${expdir}/log/vad_${dset}.log" \
            python -m ssltk.bin.remove_silence --data "data/${dset}" --out "data/${dset}${suffix}" \
            --wav_dir "${dumpdir}/nosil/${dset}" --nj "${nj}" ${vad_opts} \
            || { tail -n 5 "${expdir}/log/vad_${dset}.log" >&2; die "silence removal of ${dset} failed"; }
        grep "^remove_silence:" "${expdir}/log/vad_${dset}.log" | sed 's/^/    /' >&2 || true
    done
fi

if [ "${stage}" -le 3 ] && [ "${stop_stage}" -ge 3 ]; then
    log "Stage 3: text preparation -> ${textdir}"
    src=data/${text_set}
    [ -f "${src}/text.txt" ] || [ -f "${src}/text.phn" ] || die "${src}: no text.txt or text.phn"
    inputs=()
    [ -f "${src}/text.txt" ] && inputs+=(--text "${src}/text.txt")
    [ -f "${src}/text.phn" ] && inputs+=(--phones "${src}/text.phn")
    if fresh "${textdir}/text_info.json" "${src}"/text.*; then
        log "${textdir} exists"
    else
        mkdir -p "${expdir}/log"
        ${train_cmd} "${expdir}/log/text.log" \
            python -m ssltk.bin.uasr_text "${inputs[@]}" --language "${language}" \
            --sil_prob "${sil_prob}" --min_phone_count "${min_phone_count}" --lm_order "${lm_order}" \
            --nj "${nj}" --out "${textdir}" \
            || { tail -n 5 "${expdir}/log/text.log" >&2; die "text preparation failed (${expdir}/log/text.log)"; }
    fi
fi

if [ "${stage}" -le 4 ] && [ "${stop_stage}" -ge 4 ]; then
    log "Stage 4: features of ${upstream}${layer:+ layer ${layer}} -> ${dumpdir}/${feats_tag}"
    for dset in ${speech_sets}; do
        out=${dumpdir}/${feats_tag}/${dset}
        if fresh "${out}/feats_info.yaml" "data/${dset}${suffix}/wav.scp"; then
            log "${out} exists"
            continue
        fi
        python -m ssltk.bin.extract_feats --upstream "${upstream}" ${layer:+--layer "${layer}"} \
            --data "data/${dset}${suffix}" --out "${out}" --nj "${nj}" \
            --device "$([ "${ngpu}" -gt 0 ] && echo cuda || echo cpu)"
    done
fi

if [ "${stage}" -le 5 ] && [ "${stop_stage}" -ge 5 ] && [ "${km_k}" -gt 0 ]; then
    log "Stage 5: k-means (k=${km_k}) on MFCC of data/${train_set}${suffix} -> ${km}"
    mkdir -p "${km}/log"
    if ! fresh "${km}/codebook.pt" "data/${train_set}${suffix}/wav.scp"; then
        ${train_cmd} "${km}/log/fit.log" \
            python -m ssltk.bin.kmeans fit --data "data/${train_set}${suffix}" --upstream mfcc \
            --upstream-opt deltas=true --k "${km_k}" --seed 0 --out "${km}/codebook.pt" \
            || { tail -n 5 "${km}/log/fit.log" >&2; die "k-means failed (${km}/log/fit.log)"; }
    fi
    if ! fresh "${km}/${train_set}/km_info.yaml" "${km}/codebook.pt"; then
        ${train_cmd} "${km}/log/label.log" \
            python -m ssltk.bin.kmeans label --codebook "${km}/codebook.pt" \
            --data "data/${train_set}${suffix}" --out "${km}/${train_set}" \
            || { tail -n 5 "${km}/log/label.log" >&2; die "k-means labelling failed (${km}/log/label.log)"; }
    fi
fi

# system_of WEIGHT: the experiment name of a CLIP weight (gan, gan_clip1.0, ...)
system_of() { if awk -v w="$1" 'BEGIN { exit !(w > 0) }'; then echo "gan_clip$1"; else echo gan; fi; }
use_clip=false
for w in ${clip_weights}; do
    [[ "${w}" =~ ^[0-9]*\.?[0-9]+$ ]] || die "--clip_weights: '${w}' is not a number"
    [ "$(system_of "${w}")" != gan ] && use_clip=true
done
[ -n "${clip_dir}" ] || clip_dir=${expdir}/clip

if [ "${stage}" -le 6 ] && [ "${stop_stage}" -ge 6 ] && ${use_clip}; then
    log "Stage 6: CLIP text encoder and targets -> ${clip_dir}"
    if [ -f "${clip_dir}/text_encoder.pt" ] && [ -f "${clip_dir}/${train_set}/targets.scp" ]; then
        log "${clip_dir} exists"
    elif [ -x local/clip_targets.sh ]; then
        local/clip_targets.sh --phones "${textdir}/phones.txt" --out "${clip_dir}" \
            --sets "${train_set} ${valid_set} ${test_sets}"
    else
        die "--clip_weights needs ${clip_dir}/text_encoder.pt and ${clip_dir}/${train_set}/targets.scp (--clip_dir, or a local/clip_targets.sh)"
    fi
fi

if [ "${stage}" -le 7 ] && [ "${stop_stage}" -ge 7 ]; then
    log "Stage 7: GAN training (seeds: ${seeds}; CLIP weights: ${clip_weights})"
    km_args=()
    [ "${km_k}" -gt 0 ] && km_args=(--km "${km}/${train_set}")
    for w in ${clip_weights}; do
        clip_args=()
        [ "$(system_of "${w}")" != gan ] && clip_args=(--clip_targets "${clip_dir}/${train_set}/targets.scp"
            --override gan.clip_weight="${w}" gan.clip_encoder="${clip_dir}/text_encoder.pt")
        for seed in ${seeds}; do
            exp=${expdir}/$(system_of "${w}")_s${seed}
            if trained "${exp}"; then
                log "${exp}: finished"
                continue
            fi
            mkdir -p "${exp}/log"
            log "training ${exp} (log: ${exp}/log/train.log)"
            # shellcheck disable=SC2086
            set_launcher "${ngpu}" ssltk.bin.uasr_train "${num_nodes}" "${num_procs}"
            ${cuda_cmd} "${launch_opts[@]}" "${exp}/log/train.log" \
                "${launcher[@]}" --config "${gan_config}" \
                --train "${dumpdir}/${feats_tag}/${train_set}" --valid "${dumpdir}/${feats_tag}/${valid_set}" \
                --valid_ref "data/${valid_set}" --text "${textdir}" --exp "${exp}" "${km_args[@]}" \
                "${clip_args[@]}" --override trainer.seed="${seed}" ${train_args} \
                || { tail -n 5 "${exp}/log/train.log" >&2; die "training ${exp} failed (${exp}/log/train.log)"; }
        done
    done
fi

if [ "${stage}" -le 8 ] && [ "${stop_stage}" -ge 8 ]; then
    log "Stage 8: decoding ${valid_set} ${test_sets}"
    for w in ${clip_weights}; do
        for seed in ${seeds}; do
            exp=${expdir}/$(system_of "${w}")_s${seed}
            [ -f "${exp}/results.json" ] || die "${exp}: not trained (stage 7)"
            for dset in ${valid_set} ${test_sets}; do
                python -m ssltk.bin.uasr_infer --exp "${exp}" --feats "${dumpdir}/${feats_tag}/${dset}" \
                    --data "data/${dset}${suffix}" --out "${exp}/decode_${dset}" --posteriors
            done
        done
    done
fi

if [ "${stage}" -le 9 ] && [ "${stop_stage}" -ge 9 ]; then
    log "Stage 9: ${results_file}"
    python -m ssltk.bin.uasr_results --expdir "${expdir}" --out "${results_file}" \
        --note "Features: ${upstream}${layer:+ layer ${layer}}; silence removal: ${remove_silence}; text: data/${text_set} (${textdir}/text_info.json); k-means targets: ${km_k}; config: ${gan_config}."
    log "Results: $(pwd)/${results_file}"
fi

log "Successfully finished. [elapsed=${SECONDS}s]"
