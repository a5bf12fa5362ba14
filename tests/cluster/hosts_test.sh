#!/bin/sh
# hosts_test.sh MPIRUN PMI_PROG TESTDIR [MPI_PROG] — multi-host launches
# on fake hosts (fakehosts.sh: network namespaces with their own hostname
# and a real sshd): mpirun inside node1 with a hostfile of node1..node3,
# through ssh and through an nsenter launch agent; PMI relayed by the
# proxies, output forwarding, remote abort and cleanup; the real MPI test
# programs of TESTDIR (tests/mp, tests/coll) across the hosts over ssh
# (tcp between hosts, shm within one); failures: a killed proxy, a rank
# SIGKILLed on a remote host, an unreachable host, sshd killed mid-launch —
# each must end the job within 5 s naming host and rank, leaving no process
# in any namespace. Exit 77 (skipped) without root or openssh-server.
MPIRUN=$1
PROG=$2
TESTDIR=$3
MPIPROG=$4
PROXY=$(dirname "$MPIRUN")/rdmx-proxy
HERE=$(cd "$(dirname "$0")" && pwd)
D=$(mktemp -d /tmp/rdmx-hosts.XXXXXX)
MARK="rdmxhosts$$"
fails=0
sh "$HERE/fakehosts.sh" start "$D" 3 plain-login
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
check "remote abort names the rank and host" 1 "rank 3 (pid [0-9]* on node2) called MPI_Abort" "$out"
sleep 0.5
if pgrep -f "$MARK" >/dev/null; then echo "FAIL: leftovers after remote abort"; fails=$((fails + 1)); pgrep -f "$MARK" | xargs -r kill -KILL; else echo "ok: no leftovers"; fi
out=$(on1 timeout 60 "$MPIRUN" -n 7 -f "$D/hostfile" --launch-agent "$D/agent" true 2>&1)
check "hostfile oversubscription refused" 1 "7 ranks requested but the hosts provide only 6 slots" "$out"
if [ -n "$MPIPROG" ]; then
    out=$(on1 timeout 120 "$MPIRUN" -n 6 -f "$D/hostfile" --launch-agent "$D/agent" "$MPIPROG" 2>&1)
    rc=$?
    [ $rc -eq 0 ] && echo "ok: MPI program on 3 hosts" || { echo "FAIL: MPI program exit $rc: $out"; fails=$((fails + 1)); }
fi

SSH="ssh -F $D/ssh_config"
unset RDMX_TRANSPORTS
# (a) the real MPI test programs, 6 ranks on 3 hosts, over ssh.
if [ -n "$TESTDIR" ]; then
    for c in "p2p_pairs --max-size 64K --iters 1" ordering probe \
             "coll_check -q -n 0,1,1000"; do
        set -- $c
        [ -x "$TESTDIR/$1" ] || { echo "skip: $TESTDIR/$1 not built"; continue; }
        p=$1; shift
        out=$(on1 timeout 180 "$MPIRUN" -n 6 -f "$D/hostfile" --launch-agent "$SSH" "$TESTDIR/$p" "$@" 2>&1)
        rc=$?
        [ $rc -eq 0 ] && echo "ok: $p on 3 hosts over ssh" || { echo "FAIL: $p on 3 hosts: exit $rc: $(printf '%s\n' "$out" | tail -20)"; fails=$((fails + 1)); }
    done
fi

# ---- failures ----
now_ms() { echo $(($(date +%s%N) / 1000000)); }
ns_of() { readlink "/proc/$1/ns/uts" 2>/dev/null; }
# pids of processes matching pattern $2 inside fake host $1
pids_on() {
    u=$(ns_of "$(cat "$D/holder.$1")")
    for p in $(pgrep -f "$2"); do [ "$(ns_of "$p")" = "$u" ] && echo "$p"; done
}
OUT=$D/fail.out
# start_sleepers AGENT HOSTFILE: 6 ranks that announce themselves and sleep
start_sleepers() {
    : >"$OUT"
    on1 timeout 120 "$MPIRUN" -n 6 -f "$2" --launch-agent "$1" sh -c \
        "echo \"\$PMI_RANK up\"; exec sleep $MARK" >"$OUT" 2>&1 &
    JOBPID=$!
}
wait_up() { # all 6 ranks up within 60 s
    i=0
    while [ "$(grep -c ' up$' "$OUT")" -lt 6 ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
}
# end_check WHAT T0 PATTERN: the job ended within 5 s of T0 with PATTERN
# in its output, and nothing of it is left on any host.
end_check() {
    wait "$JOBPID"
    t=$(($(now_ms) - $2))
    if [ $t -lt 5000 ]; then echo "ok: $1: job ended ${t} ms after the failure"
    else echo "FAIL: $1: job took ${t} ms to end"; fails=$((fails + 1)); fi
    check "$1: message names host and rank" 1 "$3" "$(cat "$OUT")"
    # Remote teardown (proxy sees EOF, kills its ranks) may trail
    # mpirun's exit slightly.
    i=0
    while [ $i -lt 20 ] && pgrep -f "$MARK|$PROXY" >/dev/null; do sleep 0.1; i=$((i + 1)); done
    left=$(pgrep -f "$MARK|$PROXY")
    if [ -n "$left" ]; then
        echo "FAIL: $1: processes left: $(ps -o pid,args -p "$(echo $left | tr ' ' ,)")"
        fails=$((fails + 1))
        kill -KILL $left 2>/dev/null
    else echo "ok: $1: no processes left in any namespace"; fi
}
MARK="30.$$"

start_sleepers "$SSH" "$D/hostfile"; wait_up
pid=$(pids_on node2 "$PROXY" | head -1)
t0=$(now_ms); kill -KILL $pid
end_check "killed proxy" "$t0" "lost rdmx-proxy on host node2 .*(rank 2,3)"

start_sleepers "$D/agent" "$D/hostfile"; wait_up
pid=$(pids_on node3 "sleep $MARK" | head -1)
rank=$(tr '\0' '\n' <"/proc/$pid/environ" | sed -n 's/^PMI_RANK=//p')
t0=$(now_ms); kill -KILL $pid
end_check "remote rank SIGKILL" "$t0" "rank $rank (pid $pid on node3) killed by signal 9"

# An address on the fake hosts' subnet that nobody answers: ssh fails
# (ConnectTimeout 3 in ssh_config).
net=$(sed -n 's/\.[0-9]* node1$//p' "$D/hosts")
printf 'node1 slots=2\n%s.99 slots=2\n' "$net" >"$D/hostfile.bad"
: >"$OUT"
t0=$(now_ms)
on1 timeout 60 "$MPIRUN" -n 4 -f "$D/hostfile.bad" --launch-agent "$SSH" sleep "$MARK" >"$OUT" 2>&1 &
JOBPID=$!
end_check "unreachable host" "$t0" "lost rdmx-proxy on host $net.99 .*(rank 2,3)"

# sshd of node3 (daemon and sessions) killed while the job starts.
start_sleepers "$SSH" "$D/hostfile"
i=0
while [ -z "$(pids_on node3 sshd)" ] || [ "$(pids_on node3 sshd | wc -l)" -lt 2 ]; do
    sleep 0.05; i=$((i + 1)); [ $i -gt 400 ] && break
done
t0=$(now_ms)
kill -KILL $(pids_on node3 sshd) 2>/dev/null
end_check "sshd killed mid-launch" "$t0" "lost rdmx-proxy on host node3"

[ $fails -eq 0 ] && echo "all multi-host checks passed"
exit $((fails != 0))
