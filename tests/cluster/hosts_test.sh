#!/bin/sh
# hosts_test.sh MPIRUN PMI_PROG [MPI_PROG] — multi-host launches on fake
# hosts (fakehosts.sh: network namespaces with their own hostname and a
# real sshd): mpirun inside node1 with a hostfile of node1..node3, through
# ssh and through an nsenter launch agent; PMI across hosts, output
# forwarding, remote abort and cleanup. Exit 77 (skipped) without root or
# openssh-server.
MPIRUN=$1
PROG=$2
MPIPROG=$3
HERE=$(cd "$(dirname "$0")" && pwd)
D=$(mktemp -d /tmp/rdmx-hosts.XXXXXX)
MARK="rdmxhosts$$"
fails=0
sh "$HERE/fakehosts.sh" start "$D" 3
rc=$?
[ $rc -eq 77 ] && { rm -rf "$D"; exit 77; }
[ $rc -ne 0 ] && { sh "$HERE/fakehosts.sh" stop "$D"; rm -rf "$D"; echo "FAIL: fake hosts"; exit 1; }
trap 'sh "$HERE/fakehosts.sh" stop "$D"; rm -rf "$D"' EXIT
on1() { nsenter -t "$(cat "$D/holder.node1")" -n -u -m "$@"; }

check() { # what expected_count pattern output
    n=$(printf '%s\n' "$4" | grep -c -- "$3")
    if [ "$n" -eq "$2" ]; then echo "ok: $1"
    else echo "FAIL: $1: expected $2 lines matching '$3', got: $4"; fails=$((fails + 1)); fi
}

for agent in "ssh -F $D/ssh_config" "$D/agent"; do
    out=$(on1 timeout 120 "$MPIRUN" -n 6 -f "$D/hostfile" --launch-agent "$agent" --tag-output "$PROG" info 2>&1)
    check "[$agent] 6 ranks on 3 hosts" 6 "size 6 local [01]/2 protocol pmi1" "$out"
    out=$(on1 timeout 120 "$MPIRUN" -n 6 -f "$D/hostfile" --launch-agent "$agent" "$PROG" fence 3 2>&1)
    check "[$agent] PMI exchange across hosts" 6 "3 rounds ok" "$out"
done
out=$(on1 timeout 60 "$MPIRUN" -n 6 --map-by node -f "$D/hostfile" --launch-agent "$D/agent" --tag-output sh -c 'echo "$PMI_RANK $(hostname)"' 2>&1)
check "--map-by node" 1 "^\[1\] 1 node2$" "$out"
check "--map-by node" 1 "^\[5\] 5 node3$" "$out"
out=$(on1 timeout 60 "$MPIRUN" -n 4 -f "$D/hostfile" --launch-agent "$D/agent" "$PROG" abort 3 4 "$MARK" 2>&1)
rc=$?
[ $rc -eq 4 ] && echo "ok: remote abort -> exit 4" || { echo "FAIL: remote abort: exit $rc: $out"; fails=$((fails + 1)); }
check "remote abort names the rank" 1 "rank 3 (pid [0-9]*) called MPI_Abort" "$out"
sleep 0.5
if pgrep -f "$MARK" >/dev/null; then echo "FAIL: leftovers after remote abort"; fails=$((fails + 1)); pgrep -f "$MARK" | xargs -r kill -KILL; else echo "ok: no leftovers"; fi
out=$(on1 timeout 60 "$MPIRUN" -n 7 -f "$D/hostfile" --launch-agent "$D/agent" true 2>&1)
check "hostfile oversubscription refused" 1 "7 ranks requested but the hosts provide only 6 slots" "$out"
if [ -n "$MPIPROG" ]; then
    out=$(on1 timeout 120 "$MPIRUN" -n 6 -f "$D/hostfile" --launch-agent "$D/agent" "$MPIPROG" 2>&1)
    rc=$?
    [ $rc -eq 0 ] && echo "ok: MPI program on 3 hosts" || { echo "FAIL: MPI program exit $rc: $out"; fails=$((fails + 1)); }
fi
[ $fails -eq 0 ] && echo "all multi-host checks passed"
exit $((fails != 0))
