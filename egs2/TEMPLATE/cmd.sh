# Job submission commands used by recipe stages: ${train_cmd} JOB=1:N log.JOB.log cmd ...
# Pick the backend with one variable (from the environment or here):
#   local: utils/run.pl runs jobs on this machine, bounded by its cores.
#   slurm: utils/slurm.pl submits each stage's jobs as a Slurm job array and waits for it;
#          sbatch options come from conf/slurm.conf of the recipe if it has one, else from
#          egs2/TEMPLATE/conf/slurm.conf (or slurm_conf=FILE). Training with --ngpu > 1,
#          --num_procs > 1 or --num_nodes > 1 runs as one srun + torch.distributed.run job.
#          To try it on this machine: tools/slurm_local.sh start (and export the SLURM_CONF it prints).
cmd_backend=${cmd_backend:-local}

case "${cmd_backend}" in
    local)
        export train_cmd="run.pl"
        export cuda_cmd="run.pl"
        export decode_cmd="run.pl"
        ;;
    slurm)
        if [ -z "${slurm_conf:-}" ]; then
            slurm_conf=conf/slurm.conf
            [ -f "${slurm_conf}" ] ||
                slurm_conf=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/conf/slurm.conf
        fi
        export train_cmd="slurm.pl --config ${slurm_conf}"
        export cuda_cmd="slurm.pl --config ${slurm_conf}"
        export decode_cmd="slurm.pl --config ${slurm_conf}"
        ;;
    *)
        echo "cmd.sh: unknown cmd_backend '${cmd_backend}' (choose: local, slurm)" >&2
        return 1 2>/dev/null || exit 1
        ;;
esac
