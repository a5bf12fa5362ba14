#!/bin/sh
# slurm_env.sh start|stop DIR [FAKEHOSTS_DIR] — a private Slurm (munge,
# slurmctld, slurmd) for tests, following ../shared/docs/cluster-testing.md.
# Without FAKEHOSTS_DIR: one node, this machine. With it (fakehosts.sh
# start FAKEHOSTS_DIR N): one slurmd per fake host, started inside that
# host's network, UTS and mount namespaces (nsenter into its holder, not
# `ip netns exec`, which remounts /sys), NodeName = its hostname, NodeAddr
# = its bridge address, a TmpFS per node (PMIx application directories
# would collide in one /tmp); slurmctld, munged and client commands run
# in this namespace and reach the nodes over the bridge.
# Needs root and the Debian packages slurm-wlm and munge. After "start",
# use: SLURM_CONF=DIR/slurm.conf srun ...
# "stop" cancels the jobs, then kills only the daemons whose pids this
# script recorded in DIR (and the step daemons left by killed slurmds).
set -e
cmd=$1
D=$2
FH=$3
[ -n "$cmd" ] && [ -n "$D" ] || { echo "usage: $0 start|stop DIR [FAKEHOSTS_DIR]" >&2; exit 2; }

# Wait until `pid` is gone or a zombie (PID 1 may reap late here), so that
# a daemon saving its state on SIGTERM is done before DIR is removed.
wait_gone() {
    i=0
    while [ -r "/proc/$1/stat" ] && [ "$(cut -d' ' -f3 "/proc/$1/stat")" != Z ] && [ $i -lt 50 ]; do
        sleep 0.1
        i=$((i + 1))
    done
}

stop() {
    if [ -s "$D/slurmctld.pid" ] && [ -f "$D/slurm.conf" ]; then
        SLURM_CONF="$D/slurm.conf" timeout 5 scancel --full --signal=KILL \
            --partition=test >/dev/null 2>&1 || true
    fi
    for p in "$D"/slurmd.*.pid "$D/slurmctld.pid" "$D/munged.pid"; do
        [ -s "$p" ] || continue
        pid=$(cat "$p")
        kill "$pid" 2>/dev/null || true
        wait_gone "$pid"
        kill -KILL "$pid" 2>/dev/null || true
        rm -f "$p"
    done
    # slurmstepd processes outlive a killed slurmd; ours run in DIR/log.
    for pid in $(pgrep -f "slurmstepd: \[" 2>/dev/null); do
        case "$(readlink "/proc/$pid/cwd" 2>/dev/null)" in
        "$D"/*) kill -KILL "$pid" 2>/dev/null || true ;;
        esac
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

mkdir -p "$D/munge" "$D/state" "$D/log"
chmod 700 "$D/munge"
[ -f "$D/munge/munge.key" ] || dd if=/dev/urandom of="$D/munge/munge.key" bs=1024 count=1 2>/dev/null
chmod 400 "$D/munge/munge.key"
munged --key-file="$D/munge/munge.key" --socket="$D/munge/socket" \
    --pid-file="$D/munged.pid" --log-file="$D/log/munged.log" \
    --seed-file="$D/munge/seed" -f
host=$(hostname -s)
cpus=$(nproc)
# Node lines: "NAME ADDR" per node.
if [ -n "$FH" ]; then
    # fakehosts.sh writes "ADDR nodeI" lines (plus localhost) to FH/hosts.
    awk '$2 ~ /^node[0-9]+$/ { print $2, $1 }' "$FH/hosts" >"$D/nodes"
    [ -s "$D/nodes" ] || { echo "no fake hosts in $FH/hosts"; stop; exit 1; }
    bridge=$(awk 'NR == 1 { split($2, a, "."); print a[1] "." a[2] "." a[3] ".1" }' "$D/nodes")
    ctl="$host($bridge)"
    nodelist=$(awk '{ printf "%s%s", (NR > 1 ? "," : ""), $1 }' "$D/nodes")
else
    echo "$host 127.0.0.1" >"$D/nodes"
    ctl=$host
    nodelist=$host
fi
while read -r n a; do mkdir -p "$D/spool-$n" "$D/tmp-$n"; done <"$D/nodes"
cat >"$D/slurm.conf" <<CONF
ClusterName=rdmxtest
SlurmctldHost=$ctl
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
SlurmdSpoolDir=$D/spool-%n
TmpFS=$D/tmp-%n
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.%n.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.%n.log
SlurmdTimeout=30
MessageTimeout=5
CONF
while read -r n a; do
    echo "NodeName=$n NodeAddr=$a CPUs=$cpus State=UNKNOWN" >>"$D/slurm.conf"
done <"$D/nodes"
echo "PartitionName=test Nodes=$nodelist Default=YES MaxTime=10 State=UP OverSubscribe=FORCE:8" >>"$D/slurm.conf"
export SLURM_CONF="$D/slurm.conf"
slurmctld -i -f "$D/slurm.conf"
# In parallel: each slurmd takes ~0.5 s to probe its node and daemonize.
while read -r n a; do
    if [ -n "$FH" ]; then
        nsenter -t "$(cat "$FH/holder.$n")" -n -u -m slurmd -f "$D/slurm.conf" </dev/null &
    else
        slurmd -f "$D/slurm.conf" &
    fi
done <"$D/nodes"
wait
want=$(wc -l <"$D/nodes")
i=0
while [ "$(sinfo -h -N -t idle -o %N 2>/dev/null | wc -l)" -lt "$want" ]; do
    i=$((i + 1))
    [ $i -gt 150 ] && { echo "slurm did not come up; logs in $D/log:"; tail -5 "$D"/log/*; stop; exit 1; }
    sleep 0.1
done
echo "slurm up: $want node(s) $nodelist, SLURM_CONF=$D/slurm.conf"
