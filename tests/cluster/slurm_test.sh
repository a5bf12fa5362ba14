#!/bin/sh
# slurm_test.sh PMI_PROG TESTDIR [MPI_PROG] — rdmx's PMI client under a
# private one-node Slurm (slurm_env.sh): srun --mpi=pmi2 with the PMI2 wire
# protocol, with PMI-1 (Slurm's plugin serves both), an abort; srun
# --mpi=pmix (when Slurm offers it and rdmx was built with libpmix); the
# real MPI test programs of TESTDIR under both. Exit 77 (skipped) without
# Slurm or root.
PROG=$1
TESTDIR=$2
MPIPROG=$3
HERE=$(cd "$(dirname "$0")" && pwd)
D=$(mktemp -d /tmp/rdmx-slurm.XXXXXX)
fails=0
sh "$HERE/slurm_env.sh" start "$D"
rc=$?
[ $rc -eq 77 ] && { rm -rf "$D"; exit 77; }
[ $rc -ne 0 ] && { rm -rf "$D"; echo "FAIL: could not start slurm"; exit 1; }
trap 'sh "$HERE/slurm_env.sh" stop "$D"; rm -rf "$D"' EXIT
SLURM_CONF="$D/slurm.conf"; export SLURM_CONF

check() { # what expected_count pattern output
    n=$(printf '%s\n' "$4" | grep -c -- "$3")
    if [ "$n" -eq "$2" ]; then echo "ok: $1"
    else echo "FAIL: $1: expected $2 lines matching '$3', output: $4"; fails=$((fails + 1)); fi
}

out=$(timeout 60 srun -I10 -O -n 3 --mpi=pmi2 "$PROG" info 2>&1)
check "pmi2 init" 3 "size 3 local [0-2]/3 protocol pmi2" "$out"
out=$(timeout 60 srun -I10 -O -n 3 --mpi=pmi2 "$PROG" fence 3 2>&1)
check "pmi2 put/fence/get with 1024-byte values" 3 "3 rounds ok" "$out"
out=$(RDMX_PMI=pmi1 PMI_PROG_VALLEN=800 timeout 60 srun -I10 -O -n 3 --mpi=pmi2 "$PROG" kvs 2>&1)
check "pmi1 wire through slurm's pmi2 plugin" 3 "kvs ok" "$out"
out=$(timeout 60 srun -I10 -O -n 3 --mpi=pmi2 "$PROG" abort 1 3 2>&1)
rc=$?
[ $rc -ne 0 ] && echo "ok: pmi2 abort ends the step (srun exit $rc)" || { echo "FAIL: abort: srun exit 0: $out"; fails=$((fails + 1)); }
if [ -n "$MPIPROG" ]; then
    out=$(timeout 120 srun -I10 -O -n 3 --mpi=pmi2 "$MPIPROG" 2>&1)
    rc=$?
    [ $rc -eq 0 ] && echo "ok: MPI program under srun --mpi=pmi2" || { echo "FAIL: MPI program exit $rc: $out"; fails=$((fails + 1)); }
fi
if srun --mpi=list 2>&1 | grep -q pmix; then
    if grep -q "RDMX_HAVE_PMIX 1" "$(dirname "$PROG")/../generated/rdmx_build_config.h" 2>/dev/null; then
        out=$(timeout 60 srun -I10 -O -n 3 --mpi=pmix "$PROG" info 2>&1)
        check "pmix init" 3 "size 3 local [0-2]/3 protocol pmix" "$out"
        out=$(timeout 60 srun -I10 -O -n 3 --mpi=pmix "$PROG" fence 3 2>&1)
        check "pmix put/fence/get" 3 "3 rounds ok" "$out"
        out=$(PMI_PROG_VALLEN=800 timeout 60 srun -I10 -O -n 3 --mpi=pmix "$PROG" kvs 2>&1)
        check "pmix kvs (missing key -> not found)" 3 "kvs ok" "$out"
        out=$(timeout 60 srun -I10 -O -n 3 --mpi=pmix "$PROG" abort 1 3 2>&1)
        rc=$?
        [ $rc -ne 0 ] && echo "ok: pmix abort ends the step (srun exit $rc)" || { echo "FAIL: pmix abort: srun exit 0: $out"; fails=$((fails + 1)); }
        MPIS="pmi2 pmix"
    else
        echo "skip: rdmx built without libpmix (apt-get install libpmix-dev)"
        MPIS=pmi2
    fi
else
    echo "skip: this Slurm has no pmix plugin"
    MPIS=pmi2
fi
# The real MPI test programs (shm within the node; RDMX_TRANSPORTS unset).
unset RDMX_TRANSPORTS
for mpi in $MPIS; do
    for c in "p2p_pairs --max-size 64K --iters 1" ordering \
             "coll_check -q -n 0,1,1000"; do
        set -- $c
        [ -n "$TESTDIR" ] && [ -x "$TESTDIR/$1" ] || { echo "skip: $1 not built"; continue; }
        p=$1; shift
        out=$(timeout 120 srun -I10 -O -n 3 --mpi=$mpi "$TESTDIR/$p" "$@" 2>&1)
        rc=$?
        [ $rc -eq 0 ] && echo "ok: $p under srun --mpi=$mpi" || { echo "FAIL: $p under srun --mpi=$mpi: exit $rc: $(printf '%s\n' "$out" | tail -20)"; fails=$((fails + 1)); }
    done
done
[ $fails -eq 0 ] && echo "all slurm checks passed"
exit $((fails != 0))
