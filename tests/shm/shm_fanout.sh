#!/bin/sh
# shm_fanout.sh MPIRUN PROGRAM — broadcasts through the shm fan-out staging
# area (shm_fanout.c checks the data): with the area, some broadcasts must
# be staged (the transport's debug log says so); without it
# (RDMX_SHM_FANOUT_BYTES=0) none, and the data must be right either way.
set -u
mpirun=$1 prog=$2
out=$(mktemp) || exit 1
trap 'rm -f "$out"' EXIT INT TERM
fail=0
run() { # fanout_bytes
    RDMX_TRANSPORTS=shm,self RDMX_LOG=debug RDMX_SHM_FANOUT_BYTES=$1 \
        "$mpirun" -n 4 "$prog" >"$out" 2>&1
    rc=$?
    if [ $rc -ne 0 ] || ! grep -q "shm_fanout: PASS" "$out"; then
        echo "FAIL: RDMX_SHM_FANOUT_BYTES=$1: exit $rc or wrong data"
        grep -v "^\[rdmx:debug" "$out"; fail=1
    fi
    staged=$(grep -c "bytes staged for several readers" "$out")
}
run 1m
echo "with a 1 MiB area: $staged broadcasts staged"
[ "$staged" -ge 10 ] || { echo "FAIL: too few staged broadcasts"; fail=1; }
run 0
echo "without an area: $staged broadcasts staged"
[ "$staged" -eq 0 ] || { echo "FAIL: staged without an area"; fail=1; }
[ $fail -eq 0 ] && echo "shm_fanout: PASS"
exit $fail
