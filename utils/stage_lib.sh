#!/usr/bin/env bash
# Helpers shared by the stage scripts of egs2/TEMPLATE (sourced, not run):
#   log MSG...                 timestamped message with the caller's script and line, on stderr
#   die MSG...                 log "error: MSG" and exit 1
#   fresh OUT [IN ...]         true when OUT exists and no IN is newer: a finished step, skipped on a rerun
#   set_launcher NGPU [MODULE [NUM_NODES [NUM_PROCS]]]
#                              set the array launcher to "python -m [MODULE]", or for more than one
#                              process (NUM_PROCS per node, default: NGPU, at least 1) to one
#                              torch.distributed.run job (gloo on CPU, nccl on GPU): --standalone with
#                              cmd_backend=local, srun + torch.distributed.run (one per node, the
#                              rendezvous from Slurm's variables) with cmd_backend=slurm; and the array
#                              launch_opts to the job options that go with it (--gpu, --num-threads,
#                              --num-nodes):
#                              set_launcher "${ngpu}" ssltk.bin.train "${num_nodes}" "${num_procs}"
#                              ${cuda_cmd} "${launch_opts[@]}" LOG "${launcher[@]}" --exp ...
#   trained EXP                true when EXP/results.json (written by the trainers) says "finished": true

log() { echo "$(date '+%Y-%m-%dT%H:%M:%S') ($(basename "$0"):${BASH_LINENO[0]}) $*" >&2; }

die() { log "error: $*"; exit 1; }

fresh() {
    local out=$1 dep
    shift
    [ -e "${out}" ] || return 1
    for dep in "$@"; do
        [ "${dep}" -nt "${out}" ] && return 1
    done
    return 0
}

# shellcheck disable=SC2034  # launcher and launch_opts are the caller's
set_launcher() {
    local ngpu=$1 module=${2:-} nodes=${3:-1} procs=${4:-} run
    [[ "${ngpu}" =~ ^[0-9]+$ ]] || die "--ngpu must be a non-negative integer, not '${ngpu}'"
    [[ "${nodes}" =~ ^[1-9][0-9]*$ ]] || die "--num_nodes must be a positive integer, not '${nodes}'"
    [ -n "${procs}" ] || procs=$((ngpu > 1 ? ngpu : 1))
    [[ "${procs}" =~ ^[1-9][0-9]*$ ]] || die "--num_procs must be a positive integer, not '${procs}'"
    if [ "${ngpu}" -gt 0 ] && [ "${procs}" -ne "${ngpu}" ]; then
        die "--num_procs ${procs} with --ngpu ${ngpu}: one process per GPU (leave --num_procs empty)"
    fi
    launch_opts=(--gpu "${ngpu}")
    if [ $((nodes * procs)) -eq 1 ]; then
        launcher=(python -m ${module:+"${module}"})
        return 0
    fi
    [ "${procs}" -gt 1 ] && launch_opts+=(--num-threads "${procs}")
    if [ "${cmd_backend:-local}" != slurm ]; then
        [ "${nodes}" -eq 1 ] || die "--num_nodes ${nodes} needs cmd_backend=slurm (cmd.sh), not '${cmd_backend:-local}'"
        launcher=(python -m torch.distributed.run --standalone --nproc_per_node "${procs}" -m ${module:+"${module}"})
        return 0
    fi
    # One srun task per node, each a torch.distributed.run of the node's processes; node 0 of
    # the job is the master, its port derived from the job id (distinct for jobs sharing a node).
    [ "${nodes}" -gt 1 ] && launch_opts+=(--num-nodes "${nodes}")
    # shellcheck disable=SC2016  # expanded by the job, on its nodes
    run='exec python -m torch.distributed.run --nnodes "${SLURM_NNODES}" --node_rank "${SLURM_NODEID}"'
    run+=" --nproc_per_node ${procs}"
    # shellcheck disable=SC2016
    run+=' --master_addr "$(scontrol show hostnames "${SLURM_JOB_NODELIST}" | head -n 1)"'
    # shellcheck disable=SC2016
    run+=' --master_port $((29500 + SLURM_JOB_ID % 10000)) -m "$@"'
    launcher=(srun --kill-on-bad-exit=1 --nodes "${nodes}" --ntasks-per-node 1 --cpus-per-task "${procs}"
              bash -c "${run}" ddp ${module:+"${module}"})
}

# results.json is indented JSON (ssltk.data.datadir.write_json): the top-level key is the
# line '  "finished": true,' (history entries are indented deeper).
trained() { [ -f "$1/results.json" ] && grep -Eq '^  "finished": true,?$' "$1/results.json"; }
