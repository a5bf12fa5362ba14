#!/bin/sh
# shm_coll_area_mismatch.sh MPIRUN PROGRAM — collectives choose their
# algorithm by the size of the shm collective area, so every rank must have
# the same: a job where one rank sets another RDMX_SHM_COLL_BYTES must end
# at start-up with an error naming both ranks and the variable (no hang,
# nothing left in /dev/shm), and the same sizes everywhere must run.
set -u
mpirun=$1 prog=$2
out=$(mktemp) || exit 1
trap 'rm -f "$out"' EXIT INT TERM
fail=0
before=$(ls /dev/shm | grep -c '^rdmx-' || true)

# Rank 0 alone asks for an 8 KiB area; the others keep the default.
RDMX_TRANSPORTS=shm,self timeout 120 "$mpirun" -n 3 sh -c \
    'if [ "$PMI_RANK" = 0 ]; then RDMX_SHM_COLL_BYTES=8k; export RDMX_SHM_COLL_BYTES; fi; exec "$0"' \
    "$prog" >"$out" 2>&1
rc=$?
if [ $rc -eq 0 ] || [ $rc -eq 124 ]; then
    echo "FAIL: mismatched areas: exit $rc (want a start-up error)"; fail=1
fi
grep -q "collective area of .* bytes, rank .* set RDMX_SHM_COLL_BYTES alike" \
    "$out" || { echo "FAIL: no error naming the ranks and the variable"; fail=1; }
[ $fail -eq 0 ] || cat "$out"

RDMX_TRANSPORTS=shm,self RDMX_SHM_COLL_BYTES=8k timeout 120 "$mpirun" -n 3 \
    "$prog" >"$out" 2>&1 || { echo "FAIL: equal areas: exit $?"; cat "$out"; fail=1; }

after=$(ls /dev/shm | grep -c '^rdmx-' || true)
[ "$after" -le "$before" ] || { echo "FAIL: /dev/shm grew ($before -> $after)"; fail=1; }
[ $fail -eq 0 ] && echo "shm_coll_area_mismatch: PASS"
exit $fail
