# Job submission commands used by recipe stages: ${train_cmd} JOB=1:N log.JOB.log cmd ...
# Pick the backend with one variable (from the environment or here):
#   local: utils/run.pl runs jobs on this machine, bounded by its cores.
cmd_backend=${cmd_backend:-local}

case "${cmd_backend}" in
    local)
        export train_cmd="run.pl"
        export cuda_cmd="run.pl"
        export decode_cmd="run.pl"
        ;;
    *)
        echo "cmd.sh: unknown cmd_backend '${cmd_backend}' (choose: local)" >&2
        return 1 2>/dev/null || exit 1
        ;;
esac
