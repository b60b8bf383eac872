#!/usr/bin/env bash
# A single-node Slurm on this machine, for the tests and for trying cmd_backend=slurm.
#   tools/slurm_local.sh start    write a slurm.conf for this host (its real CPU count and
#                                 memory, one partition "local"), start munged, slurmctld and
#                                 slurmd as the current user; prints the SLURM_CONF to export
#   tools/slurm_local.sh stop     stop the daemons (the state folder is kept, for its logs)
#   tools/slurm_local.sh status   daemons running and sinfo answering? (exit 1 if not)
#   tools/slurm_local.sh env      print "export SLURM_CONF=..." (eval "$(tools/slurm_local.sh env)")
# Everything (config, munge key and socket, state, spool, daemon logs) lives in
# ${SSLTK_SLURM_DIR:-/tmp/ssltk-slurm}. Needs the Debian packages: apt-get install slurm-wlm munge
# (run as root: the daemons are started as the current user, not as the slurm/munge users).
set -euo pipefail

dir=${SSLTK_SLURM_DIR:-/tmp/ssltk-slurm}
conf=${dir}/slurm.conf
export SLURM_CONF=${conf}

die() { echo "slurm_local.sh: $*" >&2; exit 1; }

need() {
    local prog
    for prog in "$@"; do
        command -v "${prog}" >/dev/null || [ -x "/usr/sbin/${prog}" ] ||
            die "${prog} not found: install Slurm and munge first (Debian: apt-get install slurm-wlm munge)"
    done
}

# The pid in FILE when that process is alive.
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

write_conf() {
    local host node user
    host=$(hostname -s)
    # slurmd -C reports this host as slurmd sees it: CPUs, sockets, cores and RealMemory (MiB).
    node=$(slurmd -C | head -n 1)
    [[ "${node}" == NodeName=* ]] || die "slurmd -C printed '${node}', not a node line"
    user=$(id -un)
    cat > "${conf}" <<EOF
# Written by tools/slurm_local.sh: a one-node Slurm for ${host}.
ClusterName=ssltk
SlurmctldHost=${host}
SlurmUser=${user}
SlurmdUser=${user}
AuthType=auth/munge
AuthInfo=socket=${dir}/munge.socket
CryptoType=crypto/munge
SlurmctldPort=${SSLTK_SLURM_PORT:-6817}
SlurmdPort=$(( ${SSLTK_SLURM_PORT:-6817} + 1 ))
StateSaveLocation=${dir}/state
SlurmdSpoolDir=${dir}/spool
SlurmctldPidFile=${dir}/slurmctld.pid
SlurmdPidFile=${dir}/slurmd.pid
SlurmctldLogFile=${dir}/slurmctld.log
SlurmdLogFile=${dir}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
# keep finished jobs in "scontrol show job" for 10 minutes (there is no accounting database)
MinJobAge=600
SlurmdTimeout=30
${node%% UpTime=*} State=UNKNOWN
PartitionName=local Nodes=${host} Default=YES MaxTime=INFINITE State=UP
EOF
}

start() {
    need munged slurmctld slurmd sinfo
    if alive "${dir}/slurmctld.pid" && alive "${dir}/slurmd.pid"; then
        echo "slurm_local.sh: already running (${conf})"
        echo "export SLURM_CONF=${conf}"
        return 0
    fi
    stop >/dev/null 2>&1 || true
    mkdir -p "${dir}/state" "${dir}/spool"
    chmod 700 "${dir}"
    write_conf
    if [ ! -s "${dir}/munge.key" ]; then
        (umask 077 && dd if=/dev/urandom of="${dir}/munge.key" bs=1024 count=1 status=none)
    fi
    /usr/sbin/munged --force --key-file "${dir}/munge.key" --socket "${dir}/munge.socket" \
        --pid-file "${dir}/munged.pid" --log-file "${dir}/munged.log" --seed-file "${dir}/munged.seed" ||
        die "munged failed to start; see ${dir}/munged.log"
    # -c: a fresh cluster state (no jobs left over from an earlier run)
    slurmctld -c || die "slurmctld failed to start; see ${dir}/slurmctld.log"
    slurmd || die "slurmd failed to start; see ${dir}/slurmd.log"
    local i
    for i in $(seq 60); do
        if sinfo -h -o '%T' 2>/dev/null | grep -Eq '^(idle|mixed|allocated)'; then
            echo "slurm_local.sh: running: $(sinfo -h -o '%P %D nodes %c CPUs %m MB %T')"
            echo "export SLURM_CONF=${conf}"
            return 0
        fi
        [ "${i}" -eq 10 ] && scontrol update nodename="$(hostname -s)" state=resume 2>/dev/null || true
        sleep 0.5
    done
    die "the node did not become idle in 30 s: $(sinfo -h -N -o '%N %T %E' 2>&1); see ${dir}/slurmd.log and ${dir}/slurmctld.log"
}

stop() {
    local name pidfile pid i
    for name in slurmd slurmctld munged; do
        pidfile=${dir}/${name}.pid
        alive "${pidfile}" || continue
        pid=$(cat "${pidfile}")
        kill "${pid}"
        for i in $(seq 50); do
            kill -0 "${pid}" 2>/dev/null || break
            sleep 0.2
        done
        kill -0 "${pid}" 2>/dev/null && kill -9 "${pid}"
        rm -f "${pidfile}"
    done
    echo "slurm_local.sh: stopped"
}

status() {
    local name ok=0
    for name in munged slurmctld slurmd; do
        if alive "${dir}/${name}.pid"; then echo "${name}: running"; else echo "${name}: stopped"; ok=1; fi
    done
    if [ "${ok}" -eq 0 ] && sinfo -h -o '%P %D nodes %c CPUs %m MB %T' 2>/dev/null; then
        echo "export SLURM_CONF=${conf}"
        return 0
    fi
    return 1
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    env) echo "export SLURM_CONF=${conf}" ;;
    *) echo "usage: $0 start|stop|status|env" >&2; exit 1 ;;
esac
