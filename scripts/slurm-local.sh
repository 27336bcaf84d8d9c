#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for CI and for trying `ensdef reproduce --executor slurm`.
#   scripts/slurm-local.sh up     starts munged, slurmctld and slurmd (as root) and waits for the node to be idle;
#                                 prints `export SLURM_CONF=...` for your shell
#   scripts/slurm-local.sh down   stops them by their pid files and removes the state directory
# Needs Debian's slurm-wlm and munge (apt-get install slurm-wlm munge). Everything Slurm writes (config,
# state, spool, logs, pid files) lives in one directory, $ENSDEF_SLURM_DIR (default /tmp/ensdef-slurm);
# the ports are unprivileged (16817/16818). Process tracking is linuxproc and tasks are not confined
# (task/none): no cgroups are needed, which containers and CI machines often lack.
set -euo pipefail

dir=${ENSDEF_SLURM_DIR:-/tmp/ensdef-slurm}
conf="$dir/slurm.conf"

log() { echo "slurm-local: $*" >&2; }

up() {
  command -v slurmctld >/dev/null || { log "slurmctld not found; apt-get install slurm-wlm munge"; exit 1; }
  if controller_alive; then
    log "already up ($conf)"
    echo "export SLURM_CONF=$conf"
    return
  fi
  # No live controller of ours: anything left in $dir is from a cluster that was not brought down (a killed
  # CI run, a rebooted shell). Its saved jobs would hold the node (state "alloc") when restored, and a
  # daemon still running with our ports would refuse the new one, so both go before a fresh start.
  stop_stale
  rm -rf "$dir/state" "$dir/spool"
  mkdir -p "$dir/state" "$dir/spool" "$dir/log" "$dir/munge"
  local host cpus
  host=$(hostname -s)
  cpus=$(nproc)
  # munge: the key Debian's package makes, or a new one; the daemon's socket and pid in our directory.
  if [ ! -f /etc/munge/munge.key ]; then
    mkdir -p /etc/munge
    mungekey -c -k /etc/munge/munge.key
    chown munge:munge /etc/munge/munge.key 2>/dev/null || true
    chmod 400 /etc/munge/munge.key
  fi
  if ! pgrep -x munged >/dev/null; then
    touch "$dir/munged-started-here"   # `down` stops only a munged that `up` started
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge 2>/dev/null || true
    # --force: a root-run munged on a CI machine whose directories are not laid out as munge expects.
    if id munge >/dev/null 2>&1; then
      su -s /bin/sh munge -c "munged --force" 2>/dev/null || munged --force
    else
      munged --force
    fi
  fi
  cat > "$conf" <<EOF
ClusterName=ensdef-local
SlurmctldHost=$host
SlurmUser=root
SlurmctldPort=16817
SlurmdPort=16818
AuthType=auth/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
ReturnToService=2
MpiDefault=none
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
# Ended jobs stay in squeue this long (seconds); short, so a rerun soon after sees them gone.
MinJobAge=30
SchedulerParameters=bf_interval=5
NodeName=$host CPUs=$cpus RealMemory=20000 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
  export SLURM_CONF=$conf
  # -c: start with no jobs and no node state, whatever the state directory holds.
  slurmctld -c -f "$conf"
  slurmd -c -f "$conf"
  # Wait for the node to report in.
  for _ in $(seq 1 60); do
    if sinfo -h -o '%T' 2>/dev/null | grep -qx idle; then
      log "up: node $host, $cpus CPUs, partition debug ($conf)"
      echo "export SLURM_CONF=$conf"
      return
    fi
    sleep 1
  done
  log "the node did not become idle within 60 s; see $dir/log/"
  sinfo >&2 || true
  exit 1
}

# Whether the slurmctld in our pid file still runs (a killed daemon can linger as a zombie, or its pid be reused).
controller_alive() {
  local pid
  pid=$(cat "$dir/slurmctld.pid" 2>/dev/null) || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = slurmctld ] && ! grep -q '^[^)]*) Z' "/proc/$pid/stat"
}

# Our daemons no longer in a pid file, and the jobs they left running (slurmstepd and the job's processes:
# their environment names our config and a job), stopped.
stale_pids() {
  local proc
  for proc in /proc/[0-9]*; do
    [ "${proc#/proc/}" = $$ ] && continue
    if grep -qszxF -- "$conf" "$proc/cmdline"; then echo "${proc#/proc/}"; continue; fi
    grep -qszxF -- "SLURM_CONF=$conf" "$proc/environ" || continue
    if grep -qsz '^SLURM_JOB_ID=' "$proc/environ" || [ "$(cat "$proc/comm" 2>/dev/null)" = slurmstepd ]; then
      echo "${proc#/proc/}"
    fi
  done
}

stop_stale() {
  local pids
  pids=$(stale_pids)
  [ -n "$pids" ] || return 0
  log "stopping processes left from an earlier cluster: $(tr '\n' ' ' <<< "$pids")"
  kill $pids 2>/dev/null || true
  for _ in $(seq 1 20); do [ -n "$(stale_pids)" ] || return 0; sleep 0.5; done
  kill -9 $(stale_pids) 2>/dev/null || true
}

stop_pidfile() {
  local file=$1
  [ -f "$file" ] || return 0
  local pid
  pid=$(cat "$file")
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  fi
  rm -f "$file"
}

down() {
  export SLURM_CONF=$conf
  [ -f "$conf" ] && scancel --user="$(id -un)" 2>/dev/null || true
  stop_pidfile "$dir/slurmd.pid"
  stop_pidfile "$dir/slurmctld.pid"
  stop_stale
  if [ -f "$dir/munged-started-here" ]; then stop_pidfile /run/munge/munged.pid; fi
  rm -rf "$dir"
  log "down"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
