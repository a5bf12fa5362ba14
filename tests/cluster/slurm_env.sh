#!/bin/sh
# slurm_env.sh start|stop DIR — a private one-node Slurm (munge, slurmctld,
# slurmd) for tests, following ../shared/docs/cluster-testing.md.
# Needs root and the Debian packages slurm-wlm and munge. After "start",
# use: SLURM_CONF=DIR/slurm.conf srun ...
# "stop" kills only the daemons whose pids this script recorded in DIR.
set -e
cmd=$1
D=$2
[ -n "$cmd" ] && [ -n "$D" ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }

# Wait until `pid` is gone or a zombie (PID 1 may reap late here), so that
# a daemon saving its state on SIGTERM is done before DIR is removed.
wait_gone() {
    i=0
    while [ -r "/proc/$1/stat" ] && [ "$(cut -d' ' -f3 "/proc/$1/stat")" != Z ] && [ $i -lt 100 ]; do
        sleep 0.1
        i=$((i + 1))
    done
}

stop() {
    for p in slurmd slurmctld munged; do
        if [ -s "$D/$p.pid" ]; then
            pid=$(cat "$D/$p.pid")
            kill "$pid" 2>/dev/null || true
            wait_gone "$pid"
            rm -f "$D/$p.pid"
        fi
    done
}

if [ "$cmd" = stop ]; then
    stop
    exit 0
fi

for b in munged slurmctld slurmd srun; do
    command -v $b >/dev/null || { echo "SKIP: $b not installed (apt-get install slurm-wlm munge)"; exit 77; }
done
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }

mkdir -p "$D/munge" "$D/state" "$D/spool" "$D/log"
chmod 700 "$D/munge"
[ -f "$D/munge/munge.key" ] || dd if=/dev/urandom of="$D/munge/munge.key" bs=1024 count=1 2>/dev/null
chmod 400 "$D/munge/munge.key"
munged --key-file="$D/munge/munge.key" --socket="$D/munge/socket" \
    --pid-file="$D/munged.pid" --log-file="$D/log/munged.log" \
    --seed-file="$D/munge/seed" -f
host=$(hostname -s)
cpus=$(nproc)
cat >"$D/slurm.conf" <<CONF
ClusterName=rdmxtest
SlurmctldHost=$host
SlurmUser=root
SlurmctldPort=$((17100 + $$ % 400))
SlurmdPort=$((17600 + $$ % 400))
AuthType=auth/munge
AuthInfo=socket=$D/munge/socket
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
ReturnToService=2
MpiDefault=none
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
NodeName=$host CPUs=$cpus State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=10 State=UP OverSubscribe=FORCE:8
CONF
export SLURM_CONF="$D/slurm.conf"
slurmctld -i -f "$D/slurm.conf"
slurmd -f "$D/slurm.conf"
i=0
while ! sinfo -h -o %T 2>/dev/null | grep -q idle; do
    i=$((i + 1))
    [ $i -gt 100 ] && { echo "slurm did not come up; logs in $D/log"; stop; exit 1; }
    sleep 0.1
done
echo "slurm up: SLURM_CONF=$D/slurm.conf"
