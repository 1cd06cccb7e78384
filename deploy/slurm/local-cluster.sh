#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for trying deploy/slurm/ for real (Debian's slurm-wlm
# and munge packages; no init system, no slurmdbd).
#
#   sudo deploy/slurm/local-cluster.sh up        # prints the `export SLURM_CONF=...` to use
#   sudo deploy/slurm/local-cluster.sh status
#   sudo deploy/slurm/local-cluster.sh down
#
# `up` installs slurm-wlm and munge with apt-get when slurmctld, slurmd or munged is missing, then
# starts, all as processes this script owns (their pid files in the state folder): munged as the
# `munge` user on its own socket, slurmctld and slurmd with a slurm.conf written for this host
# (`slurmd -C`: its name, cores and memory), one partition `local`, job records in jobcomp.txt. It
# waits until `sinfo` shows the node idle. `down` stops exactly those three processes (by pid, after
# checking the pid still is that program) and keeps the folder's logs and job records (jobcomp.txt);
# the next `up` starts from a clean state (job ids from 1, new logs, no records).
#
# State folder: $LOCAL_SLURM_DIR, default ${TMPDIR:-/tmp}/pipeline-slurm. Needs root (slurmd runs
# jobs as their submitters; munged's key is readable by munge only). Client commands (sbatch,
# squeue, scancel, sinfo, scontrol) need SLURM_CONF=<folder>/slurm.conf in their environment.
# Without slurmdbd there is no accounting: `sacct` has nothing; finished jobs stay in
# `scontrol show job` for an hour (MinJobAge) and in jobcomp.txt.
# Exit status: 0 on success, 1 when a daemon does not come up (its log is named), 2 for a usage
# error or what this machine lacks (not root, packages not installable).
set -euo pipefail

me=local-cluster.sh
die() {
    printf '%s: %s\n' "$me" "$*" >&2
    exit 2
}
fail() {
    printf '%s: %s\n' "$me" "$*" >&2
    exit 1
}
usage() {
    sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'
}

dir=${LOCAL_SLURM_DIR:-${TMPDIR:-/tmp}/pipeline-slurm}
conf=$dir/slurm.conf

# pid of a daemon this script started, when it still runs that program; else nothing.
live_pid() {
    local pidfile=$1 prog=$2 pid
    [[ -r $pidfile ]] || return 1
    pid=$(<"$pidfile")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [[ -r /proc/$pid/comm && $(</proc/"$pid"/comm) == "$prog" ]] || return 1
    printf '%s\n' "$pid"
}

stop_one() {
    local pidfile=$1 prog=$2 pid i
    pid=$(live_pid "$pidfile" "$prog") || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        [[ -d /proc/$pid ]] || break
        sleep 0.1
    done
    if [[ -d /proc/$pid ]]; then
        printf '%s: %s (pid %s) did not stop in 10 s; sending SIGKILL\n' "$me" "$prog" "$pid" >&2
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f -- "$pidfile"
    printf '%s: stopped %s (pid %s)\n' "$me" "$prog" "$pid"
}

need_root() {
    (($(id -u) == 0)) || die "$1 needs root (slurmd starts jobs as their users, munged's key is readable by munge only); run it with sudo"
}

install_packages() {
    local missing=() p
    for p in slurmctld slurmd munged sbatch; do
        command -v "$p" >/dev/null 2>&1 || [[ -x /usr/sbin/$p ]] || missing+=("$p")
    done
    ((${#missing[@]} == 0)) && return 0
    command -v apt-get >/dev/null ||
        die "${missing[*]} not found and there is no apt-get: install Slurm (slurmctld, slurmd, sbatch) and munge by hand"
    printf '%s: %s missing; installing slurm-wlm and munge with apt-get (log: %s)\n' "$me" "${missing[*]}" "$dir/apt.log"
    if ! { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge; } >"$dir/apt.log" 2>&1; then
        die "apt-get could not install slurm-wlm and munge (see $dir/apt.log: $(tail -n 1 "$dir/apt.log"))"
    fi
}

write_conf() {
    local host node cpus mem
    host=$(hostname -s)
    node=$(slurmd -C | head -n 1) || fail "slurmd -C could not describe this node"
    [[ $node == NodeName=* ]] || fail "slurmd -C printed '$node', not a NodeName line"
    cpus=$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$node")
    mem=$(sed -n 's/.* RealMemory=\([0-9]*\).*/\1/p' <<<"$node")
    [[ -n $cpus && -n $mem ]] || fail "no CPUs/RealMemory in '$node'"
    # A little under what the kernel reports, so the node is never drained for having less.
    mem=$((mem * 95 / 100))
    node=$(sed -e "s/^NodeName=[^ ]*/NodeName=$host/" -e "s/ RealMemory=[0-9]*/ RealMemory=$mem/" <<<"$node")
    cat >"$conf" <<EOF
# Written by deploy/slurm/local-cluster.sh for $host ($cpus CPUs, $mem MiB) on $(date -u +%FT%TZ).
ClusterName=pipeline-local
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
SlurmctldPort=${LOCAL_SLURM_PORT:-6817}
SlurmdPort=$((${LOCAL_SLURM_PORT:-6817} + 1))
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/jobcomp.txt
MinJobAge=3600
KillWait=10
$node State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
}

up() {
    need_root up
    mkdir -p -- "$dir"
    chmod 755 -- "$dir"
    if live_pid "$dir/slurmctld.pid" slurmctld >/dev/null || live_pid "$dir/slurmd.pid" slurmd >/dev/null ||
        live_pid "$dir/munge/munged.pid" munged >/dev/null; then
        die "a cluster from $dir is already running; run '$0 down' first (or set LOCAL_SLURM_DIR to another folder)"
    fi
    install_packages
    id munge >/dev/null 2>&1 || die "no 'munge' user: the munge package did not install cleanly"
    [[ -r /etc/munge/munge.key ]] ||
        die "no /etc/munge/munge.key (the munge package makes one; or: mungekey --create)"
    # A clean state each time: the last run's jobs are not resumed.
    rm -rf -- "$dir/state" "$dir/spool" "$dir/munge" "$dir"/*.log "$dir/jobcomp.txt"
    mkdir -p -- "$dir/state" "$dir/spool" "$dir/munge"
    chown munge:munge -- "$dir/munge"
    chmod 755 -- "$dir/munge"

    runuser -u munge -- /usr/sbin/munged --socket="$dir/munge/munge.socket" \
        --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" \
        --seed-file="$dir/munge/munged.seed" ||
        fail "munged did not start (see $dir/munge/munged.log)"
    munge -n -S "$dir/munge/munge.socket" | unmunge -S "$dir/munge/munge.socket" >/dev/null ||
        fail "munge credentials do not round-trip on $dir/munge/munge.socket (see $dir/munge/munged.log)"

    write_conf
    slurmctld -f "$conf" || fail "slurmctld did not start (see $dir/slurmctld.log)"
    slurmd -f "$conf" || fail "slurmd did not start (see $dir/slurmd.log)"
    export SLURM_CONF=$conf
    local i state=
    for ((i = 0; i < 60; i++)); do
        state=$(sinfo -h -o %t 2>/dev/null | head -n 1) || true
        [[ $state == idle ]] && break
        sleep 0.5
    done
    [[ $state == idle ]] ||
        fail "the node is '${state:-not listed}' after 30 s, not idle (see $dir/slurmctld.log and $dir/slurmd.log)"
    printf '%s: up on %s (slurmctld %s, slurmd %s, munged %s); state in %s\n' "$me" "$(hostname -s)" \
        "$(<"$dir/slurmctld.pid")" "$(<"$dir/slurmd.pid")" "$(<"$dir/munge/munged.pid")" "$dir"
    printf 'export SLURM_CONF=%s\n' "$conf"
}

down() {
    need_root down
    [[ -d $dir ]] || {
        printf '%s: nothing to stop (%s does not exist)\n' "$me" "$dir"
        return 0
    }
    stop_one "$dir/slurmd.pid" slurmd
    stop_one "$dir/slurmctld.pid" slurmctld
    stop_one "$dir/munge/munged.pid" munged
    printf '%s: down; logs and job records kept in %s\n' "$me" "$dir"
}

status() {
    local prog pidfile pid rc=0
    for prog in munged slurmctld slurmd; do
        pidfile=$dir/$prog.pid
        [[ $prog == munged ]] && pidfile=$dir/munge/munged.pid
        if pid=$(live_pid "$pidfile" "$prog"); then
            printf '%s: %s running (pid %s)\n' "$me" "$prog" "$pid"
        else
            printf '%s: %s not running\n' "$me" "$prog"
            rc=1
        fi
    done
    ((rc == 0)) && SLURM_CONF=$conf sinfo
    return "$rc"
}

case ${1:-} in
up) up ;;
down) down ;;
status) status ;;
-h | --help) usage ;;
*) die "usage: $0 up|down|status (got '${1:-}'; see --help)" ;;
esac
