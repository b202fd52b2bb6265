#!/usr/bin/env bash
# Brings up a real one-node Slurm (Debian's slurm-wlm 22.05 + munge) for testing the job
# scripts: slurmctld and slurmd as root on this machine, ProctrackType=proctrack/linuxproc,
# TaskPlugin=task/none, SelectType=select/cons_tres, MpiDefault=pmix. Idempotent: what
# already runs is left alone. State under $VOLLEY_SLURM (default /tmp/volley-slurm);
# afterwards `export SLURM_CONF=$VOLLEY_SLURM/slurm.conf`. `scripts/slurm-ci.sh stop`
# stops what it started. Needs root (the daemons); the packages are installed by
# scripts/setup.sh. Finished jobs are listed in $VOLLEY_SLURM/jobcomp.txt (no slurmdbd,
# so no sacct).
set -euo pipefail
base=${VOLLEY_SLURM:-/tmp/volley-slurm}
conf=$base/slurm.conf
export SLURM_CONF=$conf
say() { echo "[slurm-ci] $*"; }
running() { [ -s "$base/$1.pid" ] && kill -0 "$(cat "$base/$1.pid")" 2>/dev/null; }
retry() { local seconds=$1; shift; for _ in $(seq $((seconds * 4))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.25; done; return 1; }

if [ "${1:-}" = stop ]; then
  running slurmctld && { squeue -h -o %i | xargs -r scancel || true; }
  for d in slurmd slurmctld munged; do
    if running $d; then kill "$(cat "$base/$d.pid")"; say "stopped $d"; fi
  done
  exit 0
fi
[ "$(id -u)" = 0 ] || { echo "slurm-ci: the Slurm daemons need root" >&2; exit 1; }
for tool in slurmctld slurmd sbatch munged; do
  command -v $tool >/dev/null || { echo "slurm-ci: $tool missing: apt-get install slurmctld slurmd slurm-client munge" >&2; exit 1; }
done
mkdir -p "$base"/{state,spool,log}

# munge: the daemons authenticate each other with it. Reuse one that answers.
socket=/run/munge/munge.socket.2
if ! munge -n -S $socket 2>/dev/null | unmunge -S $socket >/dev/null 2>&1; then
  [ -s "$base/munge.key" ] || mungekey --create --keyfile="$base/munge.key" --force
  chmod 600 "$base/munge.key"
  mkdir -p /run/munge && chmod 755 /run/munge
  munged --force --key-file="$base/munge.key" --socket=$socket --pid-file="$base/munged.pid" \
    --log-file="$base/log/munged.log" --seed-file="$base/munge.seed"
  retry 10 bash -c "munge -n -S $socket | unmunge -S $socket" || { say "munged did not start"; exit 1; }
  say "munged started"
fi

node=$(hostname -s)
# This machine as slurmd sees it; RealMemory a little under the detected value (above it
# the node would be drained).
read -r cpus sockets cores threads memory < <(slurmd -C | head -1 | sed -E \
  's/.*CPUs=([0-9]+) .*SocketsPerBoard=([0-9]+) CoresPerSocket=([0-9]+) ThreadsPerCore=([0-9]+) RealMemory=([0-9]+).*/\1 \2 \3 \4 \5/')
cat >"$conf.new" <<CONF
ClusterName=volley-ci
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$base/state
SlurmdSpoolDir=$base/spool
SlurmctldPidFile=$base/slurmctld.pid
SlurmdPidFile=$base/slurmd.pid
SlurmctldLogFile=$base/log/slurmctld.log
SlurmdLogFile=$base/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerParameters=sched_interval=2
MpiDefault=pmix
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$base/jobcomp.txt
ReturnToService=2
MinJobAge=600
KillWait=5
MailProg=/bin/true
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus SocketsPerBoard=$sockets CoresPerSocket=$cores ThreadsPerCore=$threads RealMemory=$((memory * 9 / 10)) State=UNKNOWN
PartitionName=ci Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
if ! cmp -s "$conf.new" "$conf"; then
  mv "$conf.new" "$conf"
  for d in slurmd slurmctld; do running $d && { kill "$(cat "$base/$d.pid")"; retry 20 bash -c "! kill -0 $(cat "$base/$d.pid")"; }; done
else
  rm -f "$conf.new"
fi
running slurmctld || { slurmctld -f "$conf"; retry 30 scontrol ping || { say "slurmctld failed: $base/log/slurmctld.log"; exit 1; }; say "slurmctld started"; }
running slurmd || { slurmd -f "$conf" -N "$node"; retry 30 running slurmd || { say "slurmd failed: $base/log/slurmd.log"; exit 1; }; say "slurmd started"; }
idle() { sinfo -h -n "$node" -o %t | grep -Eq '^(idle|mix|alloc)'; }
retry 60 idle || { scontrol update NodeName="$node" State=RESUME || true; retry 30 idle; } || { sinfo -N -l; exit 1; }
say "ready: $node, $cpus CPUs; export SLURM_CONF=$conf"
