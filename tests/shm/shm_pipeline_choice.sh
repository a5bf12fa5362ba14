#!/bin/sh
# shm_pipeline_choice.sh MPIRUN P2P_PROGRAM BCAST_PROGRAM — the shm
# transport's choice between single-copy reads and the two-copy pipeline for
# large messages, read from its info log: point-to-point reads above
# RDMX_SHM_PIPELINE_MIN are timed once per rank (whatever the verdict, the
# data must arrive intact), RDMX_SHM_PIPELINE_MIN=0 turns the timing off, and
# a collective's fan-out never asks for it.
set -u
mpirun=$1 p2p=$2 bcast=$3
out=$(mktemp) || exit 1
trap 'rm -f "$out"' EXIT INT TERM
fail=0
line="large point-to-point messages use"
run() { # min np program args...
    min=$1 np=$2
    shift 2
    RDMX_TRANSPORTS=shm,self RDMX_LOG=info RDMX_SHM_PIPELINE_MIN=$min \
        "$mpirun" -n "$np" "$@" >"$out" 2>&1
    rc=$?
    if [ $rc -ne 0 ]; then
        echo "FAIL: $*: exit $rc"; cat "$out"; fail=1
    fi
}

run 64k 2 "$p2p"
grep -q "shm_p2p: PASS" "$out" || { echo "FAIL: p2p data check"; fail=1; }
n=$(grep -c "$line" "$out")
echo "p2p, RDMX_SHM_PIPELINE_MIN=64k: $n timing(s): $(grep "$line" "$out" | head -1)"
[ "$n" -eq 2 ] || { echo "FAIL: expected one timing per rank"; cat "$out"; fail=1; }

run 0 2 "$p2p"
grep -q "shm_p2p: PASS" "$out" || { echo "FAIL: p2p data check (min 0)"; fail=1; }
n=$(grep -c "$line" "$out")
[ "$n" -eq 0 ] || { echo "FAIL: RDMX_SHM_PIPELINE_MIN=0 still timed"; fail=1; }

# A linear bcast on one host offers the root's buffer to every receiver:
# the readers pull it themselves.
run 64k 4 "$bcast" --sizes 4M:4M --iterations 3 --warmup 1 --validate
n=$(grep -c "$line" "$out")
[ "$n" -eq 0 ] || { echo "FAIL: a bcast fan-out asked for the pipeline"; cat "$out"; fail=1; }

[ $fail -eq 0 ] && echo "shm_pipeline_choice: PASS"
exit $fail
