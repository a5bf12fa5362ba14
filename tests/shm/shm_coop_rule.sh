#!/bin/sh
# shm_coop_rule.sh MPIRUN PROGRAM — the shm transport's choice of who copies
# a large message, read from its debug log (see shm_coop_rule.c): a
# reader is helped by the sender unless a large send of its own is in
# flight.
set -u
mpirun=$1 prog=$2
out=$(mktemp) || exit 1
trap 'rm -f "$out"' EXIT INT TERM
fail=0
run() { # mode
    RDMX_TRANSPORTS=shm,self RDMX_LOG=debug "$mpirun" -n 2 "$prog" "$1" \
        >"$out" 2>&1
    rc=$?
    if [ $rc -ne 0 ] || ! grep -q "shm_coop_rule: PASS" "$out"; then
        echo "FAIL: $1: exit $rc or data check failed"; cat "$out"; fail=1
    fi
}
count() { grep -c "$1" "$out"; }

run oneway
shared=$(count "read from rank 0 shared with it")
alone=$(count "done alone: a large send of ours")
echo "oneway: $shared shared reads, $alone alone"
[ "$shared" -ge 1 ] || { echo "FAIL: oneway: no read was shared"; fail=1; }
[ "$alone" -eq 0 ] || { echo "FAIL: oneway: a read was done alone"; fail=1; }

run exchange
alone=$(count "read from rank 1 done alone: a large send of ours")
shared=$(count "read from rank 0 shared with it")
echo "exchange: rank 0 read $alone of 4 alone, rank 1 $shared of 4 shared"
[ "$alone" -eq 4 ] || { echo "FAIL: exchange: rank 0 did not read alone"; fail=1; }
[ "$shared" -eq 4 ] || { echo "FAIL: exchange: rank 1 did not read shared"; fail=1; }
[ $fail -eq 0 ] && echo "shm_coop_rule: PASS"
exit $fail
